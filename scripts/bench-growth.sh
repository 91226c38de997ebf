#!/usr/bin/env bash
# Ingest rate while PostgreSQL's tables grow (#14): TOTAL generated events (default 50,000,000)
# spread over a year, loaded in steps of STEP (default 5,000,000; the first step split into 1M
# + the rest), each step its own `cowrieql ingest` of a freshly generated file. Prints per step:
# events, events/s, peak memory; and at 1M, 10M and TOTAL events the daily report and a
# one-month ad-hoc query (`cowrieql bench`, median of 5 warm runs).
#
#   scripts/bench-growth.sh [TOTAL] [STEP]
#
# Uses COWRIEQL_BENCH_PG (an admin URL that may create databases) or starts a throwaway
# cluster in a temp folder (initdb + pg_ctl, as the postgres user when root), like the tests.
# Needs the release binary (cargo build --release) and, at 50M events, about 60 GB of disk.
set -euo pipefail
total=${1:-50000000}
step=${2:-5000000}
here=$(cd "$(dirname "$0")/.." && pwd)
name=cowrieql-growth
source "$here/scripts/lib-pg.sh"
db="cowrieql_growth_$$"
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
url=${admin/\/postgres\?/\/$db?}
[ "$url" = "$admin" ] && url="${admin%/*}/$db"

mkdir -p "$work/reports"
cat >"$work/reports/month.yaml" <<'EOF'
name: month
title: One month of events by type
queries:
  by_type:
    title: Events by type, January 2025
    query: |
      from raw_events
      where ts >= @2025-01-01 and ts < @2025-02-01
      group event_type
      aggregate n = count()
      sort n desc
EOF

reports() {
    echo "--- reports at $1 events"
    "$bin" --db "$url" views refresh >/dev/null
    "$bin" --db "$url" bench daily month --reports-dir "$work/reports" --runs 5 -p date=2025-01-03 2>&1
}

loaded=0
i=0
echo "events_before  events  seconds  events_per_s  peak_mib"
while [ "$loaded" -lt "$total" ]; do
    n=$step
    [ "$loaded" = 0 ] && [ "$step" -gt 1000000 ] && n=1000000
    [ "$loaded" = 1000000 ] && [ "$step" -gt 1000000 ] && n=$((step - 1000000))
    [ $((loaded + n)) -gt "$total" ] && n=$((total - loaded))
    # The year 2025 cut into steps: each step's own stretch of days.
    day=$((loaded * 365 / total))
    days=$(( (loaded + n) * 365 / total - day ))
    [ "$days" -lt 1 ] && days=1
    start=$(date -u -d "2025-01-01 + $day days" +%F)
    "$bin" gen --events "$n" --seed $((i + 1)) --start "$start" --days "$days" --out "$work/step.json"
    # The whole output (a closed pipe would stop the ingest before it refreshes the views).
    out=$("$bin" --db "$url" ingest --quiet "$work/step.json")
    out=$(head -1 <<<"$out")
    rm -f "$work/step.json"
    secs=$(sed -E 's/.*; ([0-9.]+)s, .*/\1/' <<<"$out")
    rate=$(sed -E 's/.*s, ([0-9]+) events\/s.*/\1/' <<<"$out")
    peak=$(sed -E 's/.*peak memory ([0-9]+) MiB.*/\1/' <<<"$out")
    printf '%13d  %6d  %7s  %12s  %8s\n' "$loaded" "$n" "$secs" "$rate" "$peak"
    loaded=$((loaded + n))
    i=$((i + 1))
    if [ "$loaded" = 1000000 ] || [ "$loaded" = 10000000 ] || [ "$loaded" = "$total" ]; then
        reports "$loaded"
    fi
done
