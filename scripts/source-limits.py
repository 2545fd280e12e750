#!/usr/bin/env python3
"""make lint: no source file over 800 lines before its tests, and the longest functions listed.

Counts every .rs file of the workspace's crates (crates/*/src, functions/*/src, tests/, bench/src),
up to its `#[cfg(test)] mod tests` (tests.rs files and tests/ suites are not limited). Fails when a file
holds more than MAX_FILE lines of non-test code. Prints the five longest non-test functions (rustfmt
layout: from the `fn` line to the closing brace at the same indentation) so they stay visible; the
goal is at most about 80 lines each, and the closing note of a change names any longer one and why.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_FILE = 800
SRC_DIRS = ["crates", "functions", "bench/src", "tests/src", "tests/chaos"]
FN_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z0-9_]+)")
TESTS_RE = re.compile(r"^\s*#\[cfg\(test\)\]\s*$")


def files():
    for top in SRC_DIRS:
        for dirpath, dirs, names in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("target", "tests", "fuzz")]
            for n in names:
                if n.endswith(".rs") and n != "tests.rs":
                    yield os.path.join(dirpath, n)


def non_test_lines(lines):
    for i, line in enumerate(lines):
        if TESTS_RE.match(line) and i + 1 < len(lines) and re.match(r"^\s*mod\s+tests\b", lines[i + 1]):
            return lines[:i]
    return lines


def functions(lines):
    for i, line in enumerate(lines):
        m = FN_RE.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        indent = m.group(1)
        for j in range(i, len(lines)):
            if lines[j].startswith(indent + "}") and lines[j].strip() in ("}", "};"):
                yield m.group(2), i + 1, j - i + 1
                break


def main():
    over, fns = [], []
    for path in files():
        with open(path, encoding="utf-8") as fh:
            lines = non_test_lines(fh.read().split("\n"))
        rel = os.path.relpath(path, ROOT)
        if len(lines) > MAX_FILE:
            over.append((len(lines), rel))
        for name, line, length in functions(lines):
            fns.append((length, f"{rel}:{line} {name}"))
    fns.sort(reverse=True)
    print("source-limits: longest functions (lines):")
    for length, where in fns[:5]:
        print(f"  {length:4d}  {where}")
    if over:
        for n, rel in sorted(over, reverse=True):
            print(f"source-limits: {rel} has {n} lines before its tests (at most {MAX_FILE})")
        sys.exit(1)
    print(f"source-limits: every file has at most {MAX_FILE} lines before its tests")


if __name__ == "__main__":
    main()
