#!/bin/sh
# options-doc.sh: the options tables the docs embed, generated from the
# options table itself (allocator/include/hak_options.h) by hakmem-options.
#
#   scripts/options-doc.sh HAKMEM_OPTIONS [--check] FILE...
#
# In FILE, the lines between
#   <!-- hakmem-options --markdown TABLE -->
#   <!-- end hakmem-options -->
# are what `HAKMEM_OPTIONS --markdown TABLE` prints. Without --check the
# blocks are rewritten in place (after an option, value or preset changed:
#   ninja -C build && scripts/options-doc.sh build/allocator/hakmem-options docs/*.md);
# with --check nothing is written: the differences are shown and the exit
# status is 1 (the allocator.options_doc test). A FILE without a block, a
# block without its end, or an unknown TABLE is an error (exit 2).
set -eu

if [ $# -lt 2 ]; then
  echo "usage: options-doc.sh HAKMEM_OPTIONS [--check] FILE..." >&2
  exit 2
fi
exe=$1
shift
check=0
if [ "$1" = --check ]; then
  check=1
  shift
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/options-doc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

status=0
for doc in "$@"; do
  tables=$(sed -n 's/^<!-- hakmem-options --markdown \([a-z]*\) -->$/\1/p' "$doc")
  if [ -z "$tables" ]; then
    echo "options-doc: $doc: no '<!-- hakmem-options --markdown TABLE -->' block" >&2
    exit 2
  fi
  for t in $tables; do
    "$exe" --markdown "$t" >"$tmp/$t.md" || {
      echo "options-doc: $doc: '$exe --markdown $t' failed" >&2
      exit 2
    }
  done
  awk -v dir="$tmp" -v doc="$doc" '
    /^<!-- hakmem-options --markdown [a-z]* -->$/ {
      print
      if (inside) { printf "%s:%d: block inside a block\n", doc, NR > "/dev/stderr"; bad = 1; exit 2 }
      inside = 1
      f = dir "/" $4 ".md"
      while ((getline line < f) > 0) print line
      close(f)
      next
    }
    /^<!-- end hakmem-options -->$/ { inside = 0; print; next }
    !inside { print }
    END {
      if (inside && !bad) { printf "%s: block without <!-- end hakmem-options -->\n", doc > "/dev/stderr"; exit 2 }
    }' "$doc" >"$tmp/new" || exit 2
  if cmp -s "$doc" "$tmp/new"; then
    continue
  fi
  if [ $check = 1 ]; then
    echo "options-doc: $doc differs from what $exe prints (regenerate: scripts/options-doc.sh $exe $doc):" >&2
    diff -u "$doc" "$tmp/new" >&2 || true
    status=1
  else
    cat "$tmp/new" >"$doc"
    echo "options-doc: $doc rewritten"
  fi
done
exit $status
