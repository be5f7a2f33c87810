"""The package's docstrings, written as plain text for a terminal, as reStructuredText.

The docstrings of cnn_vs_rnn are plain text: commands and tables indented
under the paragraph that introduces them, `*` for multiplication, `|` in
norms. reStructuredText reads those as block quotes, emphasis and
substitutions. `to_rst` keeps the text as written and makes it mean the
same in RST: an indented block becomes a literal block (shown as written, in
a fixed-width font), and `*`, `|` and a word's trailing `_` are escaped
outside it. docs/conf.py applies it to every docstring autodoc reads.
"""

from __future__ import annotations

import re

_BULLET = re.compile(r'^(\s*)([-*+]|\d+\.) ')
_ESCAPE = re.compile(r'([*|])|(?<=\w)_(?=\W|$)')


def indent_of(line: str) -> int:
  return len(line) - len(line.lstrip(' '))


def escape(line: str) -> str:
  """`*`, `|` and a word-final `_` escaped: they are text here, not markup."""
  return _ESCAPE.sub(lambda m: '\\' + m.group(0), line)


def continues_bullet(line: str, previous: str) -> bool:
  """Whether `line` is the wrapped continuation of the bullet item `previous` starts."""
  m = _BULLET.match(previous)
  return bool(m) and indent_of(line) == len(m.group(0))


def to_rst(lines: list[str]) -> list[str]:
  """Plain-text docstring lines -> RST lines that render the same text."""
  out: list[str] = []
  base = None      # The indent of the paragraph a literal block hangs from.
  previous = ''    # The last non-blank line outside a literal block.
  item = ''        # The bullet line whose continuation lines we are in.
  for line in lines:
    if not line.strip():
      out.append(line)
      continue
    if base is not None and indent_of(line) > base:
      out.append(line)
      continue
    if base is not None:
      out.append('')  # A literal block ends at a blank line.
    base = None
    if previous and indent_of(line) > indent_of(previous) and not continues_bullet(line, item):
      base = indent_of(previous)
      _open_literal(out, base)
      out.append(line)
      continue
    starts_item, in_item = bool(_BULLET.match(line)), continues_bullet(line, item)
    if out and out[-1].strip() and ((starts_item and not item) or (item and not starts_item
                                                                   and not in_item)):
      out.append('')  # A list starts and ends at a blank line.
    item = line if starts_item else (item if in_item else '')
    out.append(escape(line))
    previous = line
  return out


def _open_literal(out: list[str], indent: int) -> None:
  """Starts a literal block after the paragraph at the end of `out`."""
  while out and not out[-1].strip():
    out.pop()
  if out and out[-1].rstrip().endswith(':') and not out[-1].rstrip().endswith('::'):
    out[-1] = out[-1].rstrip() + ':'   # 'text:' + '::' renders as 'text:'
  else:
    out.extend(['', ' ' * indent + '::'])
  out.append('')


def process_docstring(app, what, name, obj, options, lines) -> None:  # pylint: disable=unused-argument
  """autodoc-process-docstring: rewrites `lines` in place."""
  lines[:] = to_rst(lines)
