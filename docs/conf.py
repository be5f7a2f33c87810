"""Sphinx configuration of the cnn_vs_rnn docs (MyST markdown, MyST-NB notebooks).

Build: python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(DOCS)
sys.path.insert(0, REPO)
sys.path.insert(0, DOCS)

import docstrings  # noqa: E402  (docs/docstrings.py)
import generate  # noqa: E402  (docs/generate.py)

# The generated reference pages follow the code at every build (and are
# committed, so they read on GitHub; tests/test_docs.py keeps them current).
generate.write()

project = 'cnn_vs_rnn'
author = 'the cnn_vs_rnn authors'
copyright = '2026, the cnn_vs_rnn authors'  # pylint: disable=redefined-builtin

extensions = [
    'myst_nb',  # MyST markdown pages and executed notebooks (it loads myst_parser)
    'sphinx.ext.autodoc',
    'sphinx.ext.mathjax',
]

source_suffix = {'.md': 'myst-nb', '.ipynb': 'myst-nb'}
root_doc = 'index'
exclude_patterns = ['_build', 'jupyter_execute', '.jupyter_cache']

# Headings get GitHub-style anchors (#quick-start) down to ###, so the same
# links work on GitHub and on the site.
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence', 'dollarmath']

# The tutorial runs at every build, on the CPU; an error in it fails the build.
nb_execution_mode = 'force'
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

autodoc_member_order = 'bysource'
autodoc_typehints = 'none'  # Signatures as written; the types are in the docstrings.
autodoc_default_options = {'members': True, 'undoc-members': False}
# In docstrings, `x` is code, as it is in the markdown pages.
default_role = 'literal'

html_theme = 'sphinx_book_theme'
html_title = 'cnn_vs_rnn'
html_theme_options = {
    'show_toc_level': 2,
    'navigation_with_keys': False,
}
# No network at build time: no intersphinx inventories to fetch.


def setup(app):
  # The package's docstrings are plain text; docs/docstrings.py renders them as written.
  app.connect('autodoc-process-docstring', docstrings.process_docstring)
