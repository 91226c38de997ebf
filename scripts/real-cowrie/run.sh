#!/usr/bin/env bash
# Records a real Cowrie 3.x log: installs Cowrie from PyPI in a venv, runs it as an
# unprivileged user on 127.0.0.1 only, drives it with real SSH and Telnet clients through every
# event family (drive.py), and writes the log to fixtures/cowrie3/cowrie.json.
#
# Not part of `cargo test`: it needs PyPI and a few minutes. Run it as root (it creates the
# user `cowrie`) or as an unprivileged user with COWRIE_USER unset:
#
#   scripts/real-cowrie/run.sh [OUT]
#
# One change is made inside the venv, and only there: Cowrie's wget/curl refuse every address
# that is not globally routable (core/network.py `_is_blocked`), so nothing a honeypot visitor
# asks for can reach the honeypot's own network. The files this script serves are on
# 127.0.0.1, so the patch lets exactly 127.0.0.1 through; every other blocked range stays
# blocked.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/fixtures/cowrie3/cowrie.json}
version=${COWRIE_VERSION:-3.1.4}
base=${COWRIE_HOME:-/opt/cowrie}
user=${COWRIE_USER:-cowrie}

as_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- env PATH="$base/venv/bin:/usr/bin:/bin" HOME="/home/$user" "$@"; else PATH="$base/venv/bin:$PATH" "$@"; fi
}

if [ "$(id -u)" = 0 ]; then
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
    mkdir -p "$base" && chown "$user:" "$base"
fi
py=$(command -v /usr/bin/python3 || command -v python3)
if [ ! -x "$base/venv/bin/cowrie" ]; then
    as_user "$py" -m venv "$base/venv"
    as_user "$base/venv/bin/pip" install -q "cowrie==$version" paramiko asyncssh
fi
site=$(as_user "$base/venv/bin/python" -c 'import cowrie, os; print(os.path.dirname(cowrie.__file__))')
net="$site/core/network.py"
if ! grep -q 'cowrieql fixture' "$net"; then
    as_user sed -i 's/^    candidates: list\[ipaddress.IPv4Address | ipaddress.IPv6Address\] = \[ip\]$/    if str(ip) == "127.0.0.1":  # cowrieql fixture: its files are served on loopback\n        return False\n&/' "$net"
    grep -q 'cowrieql fixture' "$net" || { echo "could not patch $net" >&2; exit 1; }
fi

run="$base/run"
as_user rm -rf "$run"
as_user mkdir -p "$run/etc" "$run/var/log/cowrie" "$run/var/run" "$run/var/lib/cowrie/downloads" "$run/var/lib/cowrie/tty"
as_user cp "$site/data/etc/cowrie.cfg.dist" "$run/etc/cowrie.cfg.dist"
export COWRIE_SMTP_PORT=$((20000 + RANDOM % 20000)) COWRIE_PROXY_PORT=$((40001 + RANDOM % 20000))
sed -e "s/@SMTP_PORT@/$COWRIE_SMTP_PORT/" -e "s/@PROXY_PORT@/$COWRIE_PROXY_PORT/" "$here/cowrie.cfg" | as_user tee "$run/etc/cowrie.cfg" >/dev/null
as_user cp "$here/userdb.txt" "$run/etc/userdb.txt"

stop() { (cd "$run" && as_user "$base/venv/bin/cowrie" stop >/dev/null 2>&1) || true; }
trap stop EXIT
(cd "$run" && as_user "$base/venv/bin/cowrie" start)
for _ in $(seq 60); do
    (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/2223) 2>/dev/null && break
    sleep 1
done

"$base/venv/bin/python" "$here/drive.py"
sleep 3
stop
trap - EXIT

mkdir -p "$(dirname "$out")"
cp "$run/var/log/cowrie/cowrie.json" "$out"
echo "wrote $(wc -l <"$out") events to $out"
