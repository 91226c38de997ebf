#!/bin/sh
# Screenshots of the report site over the shipped sample (docs/img/*.png, shown in the README
# and docs/reports.md): the index, the daily and the activity pages at 1280 px, in Chromium.
# Usage: scripts/screenshots.sh   (builds the debug binary; needs chromium)
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet
bin=target/debug/cowrieql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" --db "$work/sample.db" ingest fixtures/sample >/dev/null
"$bin" --db "$work/sample.db" site --window 2025-09-15..2025-09-21 -o "$work/site" >/dev/null
"$bin" --db "$work/sample.db" run daily -p date=2025-09-18 -f html -o "$work/site/daily.html"
mkdir -p docs/img
shot() { # page, height
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
        --window-size=1280,"$2" --screenshot="docs/img/$1.png" "file://$work/site/$1.html" 2>/dev/null
}
shot index 1500
shot daily 1300
shot activity 1500
ls -l docs/img/index.png docs/img/daily.png docs/img/activity.png
