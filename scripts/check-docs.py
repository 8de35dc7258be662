#!/usr/bin/env python3
"""check-docs.py SRCDIR: the repository stands on its own.

* every relative link of every Markdown file ([text](path) and
  [text](path#anchor)) names a file of the repository, and the anchor a
  heading of that file (GitHub's slugs);
* no tracked file names a place outside the repository: a path that climbs
  out of it (../ beyond the root), or the planning notes the project was
  started from, which a clone does not have (`planning`, below).

Exit 1 with one line per problem (meson test docs.links).
"""
import os
import re
import subprocess
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
try:
    files = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split()
except (OSError, subprocess.CalledProcessError):
    # Not a git checkout (a release tarball): every file but build trees.
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(("build", ".", "out"))]
        files += [os.path.relpath(os.path.join(d, x), root) for x in names]
problems = []


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[`*_]", "", s)
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


anchors = {}


def anchors_of(path):
    if path not in anchors:
        seen, out = {}, set()
        in_code = False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("```"):
                    in_code = not in_code
                m = None if in_code else re.match(r"#{1,6} (.*)", line)
                if m:
                    s = slug(m.group(1))
                    k = seen.get(s, 0)
                    seen[s] = k + 1
                    out.add(s if k == 0 else "%s-%d" % (s, k))
        anchors[path] = out
    return anchors[path]


# The planning notes' folders, as a path would name them (built from parts
# so that this file does not itself name them).
planning = re.compile(r"\b" + "sha" + r"red/(design|seed)\b")
for rel in files:
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        continue
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        continue
    if rel != "scripts/check-docs.py":
        for n, line in enumerate(text.splitlines(), 1):
            if planning.search(line):
                problems.append("%s:%d: names the planning tree outside the repository" % (rel, n))
            for m in re.finditer(r"(?<![\w.])((?:\.\./)+)", line):
                depth = len(m.group(1)) // 3
                if depth > rel.count("/"):
                    problems.append("%s:%d: a path that climbs out of the repository" % (rel, n))
    if not rel.endswith(".md"):
        continue
    in_code = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue                      # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not dest.startswith(root + os.sep) and dest != root:
                problems.append("%s:%d: link %s leaves the repository" % (rel, n, target))
                continue
            if not os.path.exists(dest):
                problems.append("%s:%d: link %s: no such file" % (rel, n, target))
                continue
            if anchor and dest.endswith(".md") and anchor not in anchors_of(dest):
                problems.append("%s:%d: link %s: no such heading in %s" % (
                    rel, n, target, os.path.relpath(dest, root)))

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
