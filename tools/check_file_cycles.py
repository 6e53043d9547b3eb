#!/usr/bin/env python3
"""Lists cycles between source files: file A calls a function defined in file B and B (directly
or through others) calls back into A. Reads the object files of a build (nm: what each defines
and what it uses), so it sees real calls, not includes.

usage: check_file_cycles.py BUILD_DIR   (exit 1 and the cycles when there are any)
"""
import collections, os, subprocess, sys


def objects(build):
    for lib in ("lcfmcore.dir", "lcfmnn.dir", "lcfm.dir"):
        top = os.path.join(build, "CMakeFiles", lib)
        for root, _, files in os.walk(top):
            for name in files:
                if name.endswith(".c.o"):
                    path = os.path.join(root, name)
                    yield os.path.relpath(path, top)[:-2], path


def symbols(path):
    defined, used = set(), set()
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "T":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def strongly_connected(graph):
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return result


def main():
    build = sys.argv[1]
    files = dict(objects(build))
    if not files:
        sys.exit(f"{build}: no object files of lcfmcore, lcfmnn or lcfm")
    where, uses = {}, {}
    for name, path in files.items():
        defined, used = symbols(path)
        for s in defined:
            where[s] = name
        uses[name] = used
    graph = collections.defaultdict(set)
    for name, used in uses.items():
        graph[name] |= {where[s] for s in used if s in where and where[s] != name}
    cycles = strongly_connected(graph)
    for c in cycles:
        print("cycle:", " <-> ".join(c))
    print(f"{len(files)} source files, {sum(len(v) for v in graph.values())} file-to-file call edges, "
          f"{len(cycles)} cycles")
    sys.exit(1 if cycles else 0)


if __name__ == "__main__":
    main()
