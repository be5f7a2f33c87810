"""The documentation's own checks: generated pages current, the link checker, the
docstring renderer, the study pages, and the README's commands as CI runs them."""

import glob
import importlib.util
import os
import re

import pytest

from conftest import REPO

DOCS = os.path.join(REPO, 'docs')


def docs_module(name: str):
  """docs/NAME.py, imported from its path (docs/ is not a package)."""
  spec = importlib.util.spec_from_file_location(f'_docs_{name}', os.path.join(DOCS, f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope='module')
def generate():
  return docs_module('generate')


def read(*path) -> str:
  with open(os.path.join(REPO, *path)) as f:
    return f.read()


# ---------------------------------------------------------------------------
# Generated reference pages.


def test_the_committed_reference_pages_equal_a_fresh_generation(generate):
  assert generate.stale() == [], 'run: python docs/generate.py'


def test_the_config_reference_has_every_base_config_field_with_its_default(generate):
  from cnn_vs_rnn import configlib
  leaves = generate.flatten(configlib.base_config().to_dict())
  rows = {row[0].strip('`'): row for row in generate.config_rows()}
  assert set(rows) == set(leaves)
  for key, value in leaves.items():
    assert rows[key][1] == f'`{value!r}`'.replace('|', '\\|'), key
    assert rows[key][2], f'{key} has no description: add one to DESCRIPTIONS in docs/generate.py'
  assert set(generate.DESCRIPTIONS) <= set(leaves), 'DESCRIPTIONS names a field that is gone'


def test_comments_above_assignments_describe_their_field(generate):
  def get_config():
    c = object()
    # The first field.
    # Its second line.
    c.first = 1
    c.group.second = 'x'  # A trailing comment.

    # Separated from the next line by a blank line: no comment of its own.

    c.third = 3
    return c
  comments = generate.assignment_comments(get_config)
  assert comments == {'first': 'The first field. Its second line.',
                      'group.second': 'A trailing comment.', 'third': ''}


def test_the_model_and_dataset_references_list_every_registered_name(generate):
  from cnn_vs_rnn import data, models
  pages = generate.generate()
  for name in models.MODELS:
    assert f'| `{name}` |' in pages['reference/models.md'], name
  for name in data.DATASETS:
    assert f'| `{name}` |' in pages['reference/datasets.md'], name


# ---------------------------------------------------------------------------
# The link checker.


def write(root, name, body):
  path = os.path.join(root, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(f'<html><body>{body}</body></html>')


def test_the_link_checker_passes_resolving_links_and_reports_broken_ones(tmp_path):
  check_links = docs_module('check_links')
  root = str(tmp_path)
  write(root, 'index.html', '<a href="sub/page.html#here">ok</a> <a href="#top">ok</a>'
                            '<p id="top"></p><img src="_images/fig.png">'
                            '<a href="https://example.com/missing.html">external</a>')
  write(root, 'sub/page.html', '<h2 id="here">Here</h2><a href="../index.html">up</a>'
                               '<a href="../">dir</a>')
  (tmp_path / '_images').mkdir()
  (tmp_path / '_images' / 'fig.png').write_bytes(b'png')
  assert check_links.broken_links(root) == []
  write(root, 'bad.html', '<a href="gone.html">x</a><a href="sub/page.html#nowhere">y</a>'
                          '<img src="_images/none.png"><a href="#nothing">z</a>')
  problems = check_links.broken_links(root)
  assert len(problems) == 4, problems
  assert all(p.startswith('bad.html: ') for p in problems)
  assert any("no id 'nowhere' in page.html" in p for p in problems)
  assert check_links.main(['check_links.py', root]) == 1


# ---------------------------------------------------------------------------
# Docstrings as autodoc renders them.


def test_plain_text_docstrings_become_rst_that_shows_them_as_written():
  to_rst = docs_module('docstrings').to_rst
  lines = ['Run it:', '  python -m x --flag', '    continued', 'then |x| * 2 and a_',
           '- an item that', '  wraps', 'After the list.']
  assert to_rst(lines) == [
      'Run it::', '', '  python -m x --flag', '    continued', '',
      'then \\|x\\| \\* 2 and a\\_', '', '- an item that', '  wraps', '', 'After the list.']
  # An indented block after a paragraph without a colon gets its own '::'.
  assert to_rst(['Table', '  a  b']) == ['Table', '', '::', '', '  a  b']


# ---------------------------------------------------------------------------
# Study pages and the README.


def test_every_study_readme_has_a_docs_page_that_includes_it():
  readmes = sorted(os.path.relpath(p, os.path.join(REPO, 'experiments'))
                   for p in glob.glob(os.path.join(REPO, 'experiments', '*', 'README.md')))
  readmes += ['README.md', 'PROTOCOL.md']
  for rel in readmes:
    page = os.path.join(DOCS, 'experiments', rel)
    assert os.path.exists(page), f'docs/experiments/{rel} is missing'
    target = re.search(r'```\{include\} (\S+)', read(page)).group(1)
    included = os.path.normpath(os.path.join(os.path.dirname(page), target))
    assert included == os.path.join(REPO, 'experiments', rel)
    assert f'experiments/{rel[:-3]}' in read('docs', 'studies.md'), f'{rel} not in the toctree'


def bash_block(text: str, heading: str) -> list[str]:
  """The lines of the first ```bash block after `heading`."""
  section = text.split(heading, 1)[1]
  return re.search(r'```bash\n(.*?)```', section, re.S).group(1).strip().splitlines()


def test_the_readme_is_short_and_its_quick_start_is_what_ci_runs():
  readme, ci = read('README.md'), read('.ci', 'run')
  assert len(readme.splitlines()) <= 250
  quick = bash_block(readme, '## Quick start')
  assert quick == [
      'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m '
      'cnn_vs_rnn.train --config configs/default.py --workdir runs/default',
      '.venv/bin/python -m pytest']
  ci_lines = [line.strip() for line in ci.splitlines()]
  for line in quick + bash_block(readme, '## Documentation'):
    assert line in ci_lines, f'.ci/run does not run: {line}'
  assert ci_lines.index(quick[-1]) < ci_lines.index(bash_block(readme, '## Documentation')[1])


def test_the_readme_links_resolve_to_files():
  for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', read('README.md')):
    if not target.startswith('http'):
      assert os.path.exists(os.path.join(REPO, target)), target
