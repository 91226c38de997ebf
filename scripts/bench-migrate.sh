#!/usr/bin/env bash
# migrate-to-postgres of a large SQLite file (#14): builds a SQLite database of TOTAL generated
# events (default 40,000,000) spread over 2025, in ingests of STEP (default 10,000,000), then
# copies it into a fresh PostgreSQL database. Prints the SQLite file's size, the time at which
# each STEP of raw_events had been copied (so that growth shows), the copy/index/validation
# split cowrieql reports, events/s and the peak memory (VmHWM) of the migrate process.
#
#   scripts/bench-migrate.sh [TOTAL] [STEP]
#
# Uses COWRIEQL_BENCH_PG (an admin URL that may create databases) or starts a throwaway
# cluster in a temp folder, like the tests. Needs the release binary and, at 40M events, about
# 60 GB of disk (the SQLite file and the PostgreSQL copy).
set -euo pipefail
total=${1:-40000000}
step=${2:-10000000}
here=$(cd "$(dirname "$0")/.." && pwd)
name=cowrieql-migrate
source "$here/scripts/lib-pg.sh"
db="cowrieql_migrate_$$"
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
url=${admin/\/postgres\?/\/$db?}
[ "$url" = "$admin" ] && url="${admin%/*}/$db"
sqlite="$work/cowrie.sqlite"

loaded=0
i=0
while [ "$loaded" -lt "$total" ]; do
    n=$step
    [ $((loaded + n)) -gt "$total" ] && n=$((total - loaded))
    day=$((loaded * 365 / total))
    days=$(( (loaded + n) * 365 / total - day ))
    [ "$days" -lt 1 ] && days=1
    start=$(date -u -d "2025-01-01 + $day days" +%F)
    # A file name per step: the same name again would read as a rotated file (which it is not).
    "$bin" gen --events "$n" --seed $((i + 1)) --start "$start" --days "$days" --out "$work/step-$i.json"
    "$bin" --db "$sqlite" ingest --quiet "$work/step-$i.json" | head -1
    rm -f "$work/step-$i.json"
    loaded=$((loaded + n))
    i=$((i + 1))
done
echo "SQLite file: $(du -b "$sqlite" | cut -f1) bytes ($(du -h "$sqlite" | cut -f1)), $loaded events"

t0=$(date +%s.%N)
"$bin" migrate-to-postgres --from "$sqlite" --to "$url" >"$work/migrate.out" 2>"$work/migrate.err" &
pid=$!
peak=0
next=$step
echo "raw_events copied  seconds since start"
while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    copied=$(psql "$url" -tAqc "SELECT COALESCE(sum(rows_copied), 0) FROM cowrieql_transfer_tables WHERE table_name = 'raw_events'" 2>/dev/null || echo 0)
    while [ -n "$copied" ] && [ "$copied" -ge "$next" ] && [ "$next" -le "$total" ]; do
        printf '%17d  %19.1f\n' "$next" "$(echo "$(date +%s.%N) - $t0" | bc)"
        next=$((next + step))
    done
    sleep 2
done
wait "$pid" || { cat "$work/migrate.err"; exit 1; }
tail -2 "$work/migrate.out"
echo "peak memory of migrate-to-postgres: $((peak / 1024)) MiB"
echo "PostgreSQL database: $(psql "$url" -tAqc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
