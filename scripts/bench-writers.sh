#!/usr/bin/env bash
# Many writers against one (#14): EVENTS generated events (default 2,000,000) cut into WRITERS
# rotated files (default 8), loaded into a fresh PostgreSQL database once by one `cowrieql ingest`
# of all the files, and once by WRITERS processes at the same time, one file each. Prints the
# wall time and events/s of each, and the ratio, measured side by side in one run (ROUNDS times,
# alternating; default 2).
#
#   scripts/bench-writers.sh [EVENTS] [WRITERS] [ROUNDS]
#
# Uses COWRIEQL_BENCH_PG or a throwaway cluster (scripts/lib-pg.sh). Needs the release binary.
set -euo pipefail
events=${1:-2000000}
writers=${2:-8}
rounds=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
name=cowrieql-writers
source "$here/scripts/lib-pg.sh"

"$bin" gen --events "$events" --seed 11 --out "$work/all.json"
lines=$(wc -l <"$work/all.json")
split -d -a 2 -l $(( (lines + writers - 1) / writers )) "$work/all.json" "$work/cowrie.json."
rm "$work/all.json"
files=("$work"/cowrie.json.*)

fresh() {
    local db="cq_writers_$1"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    local url=${admin/\/postgres\?/\/$db?}
    "$bin" --db "$url" db migrate >/dev/null
    echo "$url"
}
now() { date +%s.%N; }

echo "round  one_writer_s  one_writer_ev_s  ${writers}_writers_s  ${writers}_writers_ev_s  ratio"
for r in $(seq "$rounds"); do
    url=$(fresh "one_$r")
    t0=$(now)
    "$bin" --db "$url" ingest --quiet "${files[@]}" >/dev/null
    one=$(echo "$(now) - $t0" | bc)
    url=$(fresh "many_$r")
    t0=$(now)
    for f in "${files[@]}"; do "$bin" --db "$url" ingest --quiet "$f" >/dev/null & done
    wait
    many=$(echo "$(now) - $t0" | bc)
    n=$(psql "$url" -Atc "SELECT count(*) FROM raw_events")
    [ "$n" = "$lines" ] || { echo "the writers stored $n of $lines events" >&2; exit 1; }
    printf '%5d  %12.1f  %15.0f  %12.1f  %15.0f  %5.2f\n' "$r" "$one" "$(echo "$lines / $one" | bc -l)" \
        "$many" "$(echo "$lines / $many" | bc -l)" "$(echo "$one / $many" | bc -l)"
done
