#!/usr/bin/env python3
"""Lists what a Spin world provides to a guest: every interface it imports (with the
interfaces those `use`), with its functions and resources, one line each:

    ns:pkg/iface@version: item item ...

Usage: spin_world.py <spin git dir> <tag> <world> > list.txt
       e.g. spin_world.py /work/.mirror/spinframework+spin/repo v3.6.3 spin:up/platform@3.6.0

Reads the tag's `wit/` (and its `deps/`) straight from git. Items gated by `@unstable`
are left out (a stable Spin does not provide them). tests/host/spin_world.rs checks the
app's components against the list this writes."""
import re
import subprocess
import sys

git_dir, tag, world_ref = sys.argv[1:4]


def git(*args):
    return subprocess.run(["git", "-C", git_dir, *args], check=True,
                          capture_output=True, text=True).stdout


files = [f for f in git("ls-tree", "-r", "--name-only", tag, "wit").split() if f.endswith(".wit")]

interfaces = {}   # "ns:pkg/iface@ver" -> {"items": set, "uses": set}
worlds = {}       # "ns:pkg/world@ver" -> list of ("include"|"import", ref)


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def qualify(ref, pkg):
    """`iface` (same package) or `ns:pkg/iface@ver` -> fully qualified."""
    if ":" in ref:
        return ref
    name, ver = pkg
    return f"{name}/{ref}" + (f"@{ver}" if ver else "")


def tokens_blocks(body):
    """Top-level statements of a `{ ... }` body: (text, inner body or None)."""
    out, i, depth, start = [], 0, 0, 0
    while i < len(body):
        c = body[i]
        if c == "{":
            if depth == 0:
                head = body[start:i]
                j, d = i + 1, 1
                while d:
                    d += {"{": 1, "}": -1}.get(body[j], 0)
                    j += 1
                out.append((head.strip(), body[i + 1:j - 1]))
                i, start = j, j
                continue
        elif c == ";" and depth == 0:
            out.append((body[start:i].strip(), None))
            start = i + 1
        i += 1
    return out


def unstable(text):
    return "@unstable" in text


def clean(text):
    return re.sub(r"@\w+\([^)]*\)", "", text).strip()


by_pkg = {}
for f in files:
    src = strip_comments(git("show", f"{tag}:{f}"))
    m = re.search(r"^\s*package\s+([\w:.-]+?)(?:@([\w.+-]+))?\s*;", src, re.M)
    d = f.rsplit("/", 1)[0]
    by_pkg.setdefault(d, [])
    by_pkg[d].append((f, src, (m.group(1), m.group(2)) if m else None))

for d, entries in by_pkg.items():
    # A directory is one package (its `package` line is in one of its files); a single
    # `.wit` file directly under deps/ is a package of its own.
    groups = []
    if d.endswith("/deps"):
        groups = [[e] for e in entries]
    else:
        groups = [entries]
    for group in groups:
        pkg = next((p for _, _, p in group if p), None)
        if pkg is None:
            continue
        for f, src, _ in group:
            src = re.sub(r"^\s*package\s+[^;]+;", "", src, flags=re.M)
            for head, body in tokens_blocks(src):
                if body is None or unstable(head):
                    continue
                h = clean(head).split()
                if len(h) == 2 and h[0] == "interface":
                    key = qualify(h[1], pkg)
                    items, uses = set(), set()
                    for stmt, inner in tokens_blocks(body):
                        if unstable(stmt):
                            continue
                        s = clean(stmt)
                        if s.startswith("use "):
                            # `use x.{a, b}`: the block splitter gives "use x." and "a, b".
                            uses.add(qualify(re.match(r"use\s+([\w:/@.-]+?)\.?$", s).group(1), pkg))
                            # A used type is a name of this interface too (a resource
                            # used here is exported by the importing instance).
                            for u in (inner or "").split(","):
                                items.add(u.split(" as ")[-1].strip().lstrip("%"))
                        elif s.startswith("type "):
                            items.add(s.split()[1].lstrip("%"))
                        elif s.startswith("resource "):
                            name = s.split()[1].lstrip("%")
                            items.add(name)
                            if inner:
                                for rs, _ in tokens_blocks(inner):
                                    if unstable(rs):
                                        continue
                                    r = clean(rs)
                                    if r.startswith("constructor"):
                                        items.add(f"[constructor]{name}")
                                    elif re.match(r"%?[\w-]+\s*:\s*static\s", r):
                                        items.add(f"[static]{name}.{r.split(':')[0].strip().lstrip('%')}")
                                    elif re.match(r"%?[\w-]+\s*:\s*(async\s+)?func", r):
                                        items.add(f"[method]{name}.{r.split(':')[0].strip().lstrip('%')}")
                        elif re.match(r"%?[\w-]+\s*:\s*(async\s+)?func", s):
                            items.add(s.split(":")[0].strip().lstrip("%"))
                    interfaces[key] = {"items": items, "uses": uses}
                elif len(h) == 2 and h[0] == "world":
                    key = qualify(h[1], pkg)
                    refs = []
                    for stmt, inner in tokens_blocks(body):
                        if unstable(stmt) or inner is not None:
                            continue
                        s = clean(stmt).split()
                        if len(s) == 2 and s[0] in ("include", "import"):
                            refs.append((s[0], qualify(s[1], pkg)))
                    worlds[key] = refs

provided = set()


def add_interface(key):
    if key in provided:
        return
    if key not in interfaces:
        sys.exit(f"unknown interface {key}")
    provided.add(key)
    for u in interfaces[key]["uses"]:
        add_interface(u)


def add_world(key):
    if key not in worlds:
        sys.exit(f"unknown world {key}")
    for kind, ref in worlds[key]:
        if kind == "include":
            add_world(ref)
        else:
            add_interface(ref)


add_world(world_ref)
print(f"# What Spin {tag}'s world {world_ref} provides (wit/ at {tag}; @unstable items left out).")
print("# Generated by tests/host/data/spin_world.py; checked by tests/host/spin_world.rs.")
for key in sorted(provided):
    print(f"{key}: {' '.join(sorted(interfaces[key]['items']))}")
