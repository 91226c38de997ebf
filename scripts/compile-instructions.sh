#!/usr/bin/env bash
# Instructions per compile (parse + check + emit for both dialects), counted by callgrind:
# unlike time, the count does not change with the machine's load. Prints the count per pass
# for the typical fixture query and for every query of the built-in reports, as the
# difference of 11 passes and 1 (so start-up is not counted).
#
#   scripts/compile-instructions.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo build --release --example compile_loop >&2
bin=${CARGO_TARGET_DIR:-$here/target}/release/examples/compile_loop
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        awk '/refs:/ {gsub(",", "", $NF); print $NF}'
}
for what in tests/queries/ok/typical_report.cql builtin; do
    one=$(count "$what" 1)
    eleven=$(count "$what" 11)
    echo "$what: $(( (eleven - one) / 10 )) instructions per pass"
done
