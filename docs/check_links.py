"""Checks every internal link and image of a built HTML site; exit 1 on a broken one.

  python docs/check_links.py docs/_build/html

For every .html file under the directory, every relative `href` and `src`
must name a file that exists, and every `#fragment` (on the same page or on
the linked one) an element `id` (or an `<a name=...>`) of that page.
Absolute URLs (http:, https:, mailto:, data:, ...) are not fetched: the check
runs without a network.
"""

from __future__ import annotations

import html.parser
import os
import sys
import urllib.parse


class _Page(html.parser.HTMLParser):
  """The ids and the link targets (href, src) of one HTML page."""

  def __init__(self):
    super().__init__()
    self.ids: set[str] = set()
    self.targets: list[tuple[str, str]] = []  # (attribute, value)

  def handle_starttag(self, tag, attrs):
    for name, value in attrs:
      if value is None:
        continue
      if name == 'id' or (tag == 'a' and name == 'name'):
        self.ids.add(value)
      elif name in ('href', 'src'):
        self.targets.append((name, value))


def parse(path: str) -> _Page:
  page = _Page()
  with open(path, encoding='utf-8') as f:
    page.feed(f.read())
  return page


def is_external(url: str) -> bool:
  parts = urllib.parse.urlsplit(url)
  return bool(parts.scheme or parts.netloc)


# Theme assets, not pages: the HTML under _static/ is template macros (Jinja
# placeholders for links), copied there by the theme and never served as a page.
NOT_PAGES = ('_static', '_sources')


def html_files(root: str) -> list[str]:
  """The built pages under `root` (not the theme's assets)."""
  return sorted(os.path.join(d, f) for d, dirs, files in os.walk(root)
                if os.path.relpath(d, root).split(os.sep)[0] not in NOT_PAGES
                for f in files if f.endswith('.html'))


def broken_links(root: str) -> list[str]:
  """'PAGE: ATTR=URL (why)' for every internal link or image that does not resolve."""
  pages: dict[str, _Page] = {}

  def page(path):
    if path not in pages:
      pages[path] = parse(path)
    return pages[path]

  problems = []
  for path in html_files(root):
    for attr, url in page(path).targets:
      why = check(path, url, page)
      if why:
        problems.append(f'{os.path.relpath(path, root)}: {attr}={url} ({why})')
  return problems


def check(path: str, url: str, page) -> str | None:
  """Why `url` on the page at `path` does not resolve, or None."""
  if is_external(url):
    return None
  parts = urllib.parse.urlsplit(url)
  target = path
  if parts.path:
    target = os.path.normpath(os.path.join(os.path.dirname(path),
                                           urllib.parse.unquote(parts.path)))
    if os.path.isdir(target):
      target = os.path.join(target, 'index.html')
    if not os.path.isfile(target):
      return 'no such file'
  fragment = urllib.parse.unquote(parts.fragment)
  if fragment and target.endswith('.html') and fragment not in page(target).ids:
    return f'no id {fragment!r} in {os.path.basename(target)}'
  return None


def main(argv: list[str]) -> int:
  if len(argv) != 2 or not os.path.isdir(argv[1]):
    print('usage: python docs/check_links.py BUILT_HTML_DIR', file=sys.stderr)
    return 2
  problems = broken_links(argv[1])
  for line in problems:
    print(line, file=sys.stderr)
  count = sum(len(parse(p).targets) for p in html_files(argv[1]))
  print(f'{len(html_files(argv[1]))} pages, {count} links and images, {len(problems)} broken')
  return 1 if problems else 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
