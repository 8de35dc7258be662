# shlib.sh: what the project's shell tests share. Sourced (after `set -u`)
# with the test's prefix for its temporary folder:
#   . "$src/common/tests/shlib.sh" hr-cli
# gives
#   $tmp               a private folder under /tmp, removed at exit
#   fails              the failures counted so far (the test exits 1 if any)
#   fail MSG...        one failure, named on stderr
#   expect CODE CMD... runs CMD (stdout in $tmp/out, stderr in $tmp/err);
#                      a failure unless it exits CODE
#   has FILE TEXT      a failure unless FILE holds TEXT
tmp=$(mktemp -d "/tmp/$1-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}
has() { grep -q -- "$2" "$1" || fail "$1 lacks '$2': $(cat "$1")"; }
