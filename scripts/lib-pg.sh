# Sourced by the bench scripts: $bin (COWRIEQL_BIN or the release binary), $work (a temp folder
# removed at exit), and $admin, an admin URL that may create databases, from COWRIEQL_BENCH_PG or
# a throwaway cluster in $work/pg (initdb + pg_ctl, as the postgres user when root, unix socket
# only), stopped at exit. Needs $here (the checkout) and $name (the temp folder's prefix).
bin=${COWRIEQL_BIN:-$here/target/release/cowrieql}
[ -x "$bin" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d "/tmp/$name.XXXXXX")
chmod 755 "$work"
trap 'stop_pg; rm -rf "$work"' EXIT
stop_pg() { :; }
if [ -n "${COWRIEQL_BENCH_PG:-}" ]; then
    admin=$COWRIEQL_BENCH_PG
else
    bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    mkdir -p "$work/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
    as_pg "$bindir/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    port=$((20000 + RANDOM % 20000))
    as_pg "$bindir/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start \
        -o "-p $port -k $work/pg -c listen_addresses='' -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min" >/dev/null
    stop_pg() { as_pg "$bindir/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true; }
    admin="postgres://postgres@localhost/postgres?host=$work/pg&port=$port"
fi
