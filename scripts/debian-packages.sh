#!/usr/bin/env bash
# Installs the Debian packages a list names, after checking that every name in it is a package
# this Debian has, installed or not, so a name that does not exist fails here, on every run,
# rather than on the first fresh machine.
#
#   scripts/debian-packages.sh LIST...          check every name, install those not installed
#   scripts/debian-packages.sh --check LIST...  check every name, install nothing
#
# A LIST is a file of package names, one a line (`#` starts a comment), or the name of one under
# scripts/debian/ without its `.txt` (`test`, `release`). Exits 1 naming every package this
# Debian does not have.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

check_only=false
if [ "${1:-}" = --check ]; then
    check_only=true
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--check] LIST..." >&2; exit 2; }

names=()
for list in "$@"; do
    file=$list
    [ -f "$file" ] || file="$here/debian/$list.txt"
    [ -f "$file" ] || { echo "error: $list: no such list (nor $file)" >&2; exit 2; }
    while read -r line; do
        line=${line%%#*}
        for name in $line; do names+=("$name"); done
    done <"$file"
done

sudo=$([ "$(id -u)" = 0 ] || echo sudo)
update() { $sudo apt-get update -qq; }

# One run at a time on this machine: a second run's `apt-get update` would fail on the lock of
# the package lists, and its `apt-cache` would read them while they are being replaced.
exec 9>"${TMPDIR:-/tmp}/xyz-debian-packages.lock"
flock 9

# The names apt has no candidate for (unknown, or known only as a name others provide).
unknown() {
    local name candidate
    for name in "${names[@]}"; do
        candidate=$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
            echo "$name"
        fi
    done
}

# A fresh machine has no package lists, and apt-cache knows no package before an update; lists
# that do not know a name may be old, so they are updated once before a name is called unknown.
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
    update
fi
bad=$(unknown)
if [ -n "$bad" ]; then
    update
    bad=$(unknown)
fi
if [ -n "$bad" ]; then
    debian=$(. /etc/os-release && echo "$PRETTY_NAME")
    echo "error: no such Debian package on $debian: $(echo $bad) (listed in $*)" >&2
    exit 1
fi
$check_only && exit 0

absent=()
for name in "${names[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)" != "install ok installed" ]; then
        absent+=("$name")
    fi
done
if [ ${#absent[@]} -gt 0 ]; then
    echo "installing ${absent[*]}" >&2
    update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${absent[@]}" >/dev/null
fi
