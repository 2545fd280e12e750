#!/usr/bin/env python3
"""Check the relative links in the project's Markdown files.

Every `[text](target)` and `![alt](target)` outside code fences and inline code whose target is
not a URL must name a file or directory that exists (relative to the linking file), and a
`#fragment` must be a heading of the target Markdown file, slugged as GitHub does (lower case;
punctuation other than `-` and `_` dropped; spaces become `-`; repeats get `-1`, `-2`, ...).

Usage: scripts/doc-links.py [FILE.md ...]   (default: README.md, CHANGELOG.md, docs/*.md,
functions/*/README.md). Prints one line per broken link and exits 1 if there is any.
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = ["README.md", "CHANGELOG.md", "docs/*.md", "functions/*/README.md"]

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text):
    """(line number, line) for every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * len(marker.group(1))
                continue
            if stripped.startswith(fence):
                fence = None
                continue
        if fence is None:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        seen, found = {}, set()
        for _, line in prose_lines(text):
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        cache[path] = found
    return cache[path]


def links(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for number, line in prose_lines(text):
        for m in LINK.finditer(CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)):
            yield number, m.group(1)


def check(path):
    problems = []
    for number, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        file_part, _, fragment = target.partition("#")
        where = f"{os.path.relpath(path, ROOT)}:{number}: {target}"
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(dest):
            problems.append(f"{where}: {os.path.relpath(dest, ROOT)} does not exist")
            continue
        if fragment and dest.endswith(".md") and fragment not in anchors(dest):
            problems.append(
                f"{where}: no heading with the anchor #{fragment} in {os.path.relpath(dest, ROOT)}"
            )
    return problems


def main(argv):
    patterns = argv or [os.path.join(ROOT, p) for p in DEFAULT]
    files = sorted({f for p in patterns for f in glob.glob(p)})
    if not files:
        print("doc-links: no Markdown files found", file=sys.stderr)
        return 1
    problems = [p for f in files for p in check(os.path.abspath(f))]
    for p in problems:
        print(p)
    count = sum(1 for f in files for _ in links(os.path.abspath(f)))
    print(f"doc-links: {len(files)} files, {count} links, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
