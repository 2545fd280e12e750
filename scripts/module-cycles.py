#!/usr/bin/env python3
"""Lists module import cycles inside each crate of the workspace (make lint runs it).

Every .rs file under a crate's src/ is a module (foo.rs and foo/mod.rs are `foo`; tests.rs files and
`#[cfg(test)] mod tests` blocks are left out: tests may reach anywhere). An edge A -> B means A's code
names a path in B: `use crate::b::...`, `crate::b::...` in an expression, `super::...` or `self::...`
resolved to the module that holds the item. A `mod b;` declaration is not an edge. A path that names an
item re-exported by a module counts as an edge to that module, so a facade that re-exports its children
and is used by them is a cycle too. A bare path into a child module (`use child::Item`) is an edge.

Exit status 1 and one line per cycle when any strongly connected component has more than one module.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATE_DIRS = ["crates", "functions"]

PATH_RE = re.compile(r"\b(crate|super|self)((?:::\s*[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}\s*;", re.S)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    m = re.search(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+tests\b", text)
    return text[: m.start()] if m else text


def modules_of(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs":
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            if rel and rel[-1] in ("tests",):
                continue
            mods[tuple(rel)] = full
    return mods


def resolve(mods, base, segments):
    """The longest module prefix of base + segments that exists."""
    path = list(base)
    best = tuple(path) if tuple(path) in mods else None
    for seg in segments:
        if seg == "super":
            path = path[:-1]
        elif seg == "self":
            pass
        else:
            path.append(seg)
        if tuple(path) in mods:
            best = tuple(path)
        elif seg not in ("super", "self"):
            break
    return best


def edges_of(mods, module, text):
    out = set()
    # `self::` and `super::` are relative to the module itself; for foo.rs that is `foo`.
    def base_for(kind):
        if kind == "crate":
            return ()
        return module

    def add(kind, segs):
        segs = [s for s in segs if s]
        if kind == "super":
            segs = ["super"] + segs
        target = resolve(mods, base_for(kind), segs)
        if target is not None and target != module:
            out.add(target)

    for m in USE_GROUP_RE.finditer(text):
        kind, prefix, body = m.group(1), m.group(2), m.group(3)
        head = [s for s in prefix.split("::") if s]
        for item in re.split(r",", re.sub(r"\{[^{}]*\}", "", body)):
            item = item.strip().split(" as ")[0].strip()
            if item:
                add(kind, head + [s for s in item.split("::") if s])
        for inner in re.finditer(r"([A-Za-z_][A-Za-z0-9_:]*)::\{", body):
            add(kind, head + [s for s in inner.group(1).split("::") if s])
    # A bare path into a child module (`use child::Item;`, `child::f()`) counts too.
    for m in re.finditer(r"(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)\s*::", text):
        child = module + (m.group(1),)
        if m.group(1) not in ("crate", "super", "self") and child in mods:
            out.add(child)
    for m in PATH_RE.finditer(text):
        kind = m.group(1)
        segs = [s.strip() for s in m.group(2).split("::")]
        add(kind, segs)
    return out


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    bad = 0
    checked = 0
    for top in CRATE_DIRS:
        for name in sorted(os.listdir(os.path.join(ROOT, top))):
            src = os.path.join(ROOT, top, name, "src")
            if not os.path.isdir(src):
                continue
            mods = modules_of(src)
            graph = {}
            for module, path in mods.items():
                with open(path, encoding="utf-8") as fh:
                    graph[module] = edges_of(mods, module, strip(fh.read()))
            checked += len(mods)
            for comp in sccs(graph):
                if len(comp) > 1:
                    bad += 1
                    names = sorted("::".join(m) or "crate" for m in comp)
                    print(f"module-cycles: {top}/{name}: cycle among {', '.join(names)}")
                    for m in sorted(comp):
                        for w in sorted(graph[m]):
                            if w in comp:
                                print(f"    {'::'.join(m) or 'crate'} -> {'::'.join(w) or 'crate'}")
    if bad:
        sys.exit(1)
    print(f"module-cycles: no module import cycle in {checked} modules")


if __name__ == "__main__":
    main()
