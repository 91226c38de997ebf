#!/bin/sh
# Starting corpora for the fuzz targets, made from the generator (nothing large is committed).
set -eu
cd "$(dirname "$0")/.."
bin=${COWRIEQL_BIN:-target/debug/cowrieql}
mkdir -p fuzz/corpus/gzip_lines fuzz/corpus/ingest_line fuzz/corpus/params fuzz/corpus/compile fuzz/corpus/fmt
# The compiler starts from every fixture query, valid and not (every construct of the language).
for f in tests/queries/ok/*.cql tests/queries/err/*.cql; do
    cp "$f" "fuzz/corpus/compile/$(basename "$(dirname "$f")")-$(basename "$f")"
    cp "$f" "fuzz/corpus/fmt/$(basename "$(dirname "$f")")-$(basename "$f")"
done
"$bin" gen --events 200 --seed 1 > /tmp/cowrieql-seed.json
gzip -c /tmp/cowrieql-seed.json > fuzz/corpus/gzip_lines/sample.gz
head -c 3000 fuzz/corpus/gzip_lines/sample.gz > fuzz/corpus/gzip_lines/cut.gz
{ cat fuzz/corpus/gzip_lines/sample.gz; printf 'trailing garbage'; } > fuzz/corpus/gzip_lines/trailing.gz
{ gzip -c /tmp/cowrieql-seed.json; gzip -c /tmp/cowrieql-seed.json; } > fuzz/corpus/gzip_lines/members.gz
split -l 1 -a 4 /tmp/cowrieql-seed.json fuzz/corpus/ingest_line/line-
i=0
for w in 2025-09-22 2025-W39 2025-09 2025 "last 24h" "last 7d" all today "this week" "last month" \
    2025-09-20..2025-09-26 9998-12-31 1900-01-01 "last 99999999d" 2025-13 2025-W54 30s 90m 1.5 -3 true a,b; do
    # 8 bytes of `now`, then the text
    { printf '\000\000\000\150\000\000\000\000'; printf '%s' "$w"; } > "fuzz/corpus/params/seed-$i"
    i=$((i + 1))
done
rm -f /tmp/cowrieql-seed.json
