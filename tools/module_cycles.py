#!/usr/bin/env python3
"""Module dependency cycles inside each crate of the workspace.

For every folder level of a crate (the crate root, then each module that has sub-modules), the
sibling modules at that level form a graph: A -> B when any file under A names B by a path
(`use crate::b::..`, `crate::b::..` in code, `super::b` from a child of the same parent). A module
that names a module which names it back (directly or around a longer loop) is a cycle. A parent
naming its own children, or a child naming its parent's items, is containment, not a cycle.

Usage: tools/module_cycles.py [crate_src_dir ...]   (default: every */src of the workspace)
Exit status 1 when a cycle is found; the cycles are printed.
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
GROUP = re.compile(r"\buse\s+(crate|super)::\{([^;]*)\};", re.S)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"//.*", "", line) for line in text.splitlines())


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def targets(text, mod, is_mod_file):
    """Module paths (tuples) a file names, as absolute paths inside its crate."""
    here = mod if is_mod_file else mod[:-1]  # the module `super` is relative to is the parent
    out = []

    def resolve(kind, segments):
        if kind == "crate":
            return tuple(segments)
        return tuple(here[:-1]) + tuple(segments) if here else tuple(segments)

    for kind, body in GROUP.findall(text):
        for item in re.split(r",(?![^{]*\})", body):
            item = item.strip()
            if not item:
                continue
            head = re.split(r"::|\s", item)[0]
            if head and head not in ("self",):
                out.append(resolve(kind, [head] + [s for s in item.split("::")[1:2] if s and s[0] != "{"]))
    for kind, rest in PATH.findall(text):
        if rest == "::{":
            continue
        out.append(resolve(kind, [s for s in rest.split("::") if s]))
    return out


def crate_graph(src):
    files = {}
    for root, _dirs, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                files[path] = module_of(src, path)
    modules = set(files.values())
    edges = set()
    for path, mod in files.items():
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        is_mod_file = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        for target in targets(text, mod, is_mod_file):
            # the deepest existing module the path names (the rest are items)
            while target and target not in modules:
                target = target[:-1]
            edges.add((mod, target))
    return modules, edges


def cycles_at_levels(modules, edges):
    found = []
    parents = {m[:-1] for m in modules if m} | {()}
    for parent in sorted(parents):
        kids = {m[len(parent)] for m in modules if len(m) > len(parent) and m[: len(parent)] == parent}
        graph = {k: set() for k in kids}
        for a, b in edges:
            if len(a) > len(parent) and len(b) > len(parent) and a[: len(parent)] == parent == b[: len(parent)]:
                ka, kb = a[len(parent)], b[len(parent)]
                if ka != kb:
                    graph[ka].add(kb)
        found += [(parent, c) for c in strongly_connected(graph) if len(c) > 1]
    return found


def strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(args):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    srcs = args or sorted(
        os.path.join(root, d, "src") for d in os.listdir(root) if os.path.isdir(os.path.join(root, d, "src"))
    )
    bad = 0
    for src in srcs:
        modules, edges = crate_graph(src)
        for parent, comp in cycles_at_levels(modules, edges):
            bad += 1
            where = "::".join(("crate",) + parent)
            detail = [
                f"{a[len(parent)]} -> {b[len(parent)]}"
                for a, b in sorted(edges)
                if len(a) > len(parent) and len(b) > len(parent)
                and a[: len(parent)] == parent == b[: len(parent)]
                and a[len(parent)] in comp and b[len(parent)] in comp and a[len(parent)] != b[len(parent)]
            ]
            print(f"{os.path.relpath(src, root)}: cycle in {where}: {{{', '.join(comp)}}}")
            for d in sorted(set(detail)):
                print(f"    {d}")
    print(f"{bad} cycle(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
