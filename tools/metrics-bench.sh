#!/usr/bin/env bash
# Does serving metrics slow the simulation? (issue 17; a release benchmark command, not a timed test.)
# Runs the same run ROUNDS times each way, alternating: without --metrics-addr, and with it while a client scrapes
# /metrics once a second; prints each wall time, the best of each, and their ratio.
# Usage: tools/metrics-bench.sh [DAIS_BINARY] [ROUNDS]   (default: the release build in $CARGO_TARGET_DIR, 3 rounds)
set -euo pipefail
dais="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/dais-target}/release/dais}"
rounds="${2:-3}"
run=(run --no-render --quiet --agents 200 --steps 1500 --seed 7)

plain() { local start=$EPOCHREALTIME; "$dais" "${run[@]}" >/dev/null; echo "$EPOCHREALTIME - $start" | bc; }

scraped() {
    local log start pid port
    log="$(mktemp)"
    start=$EPOCHREALTIME
    "$dais" "${run[@]}" --metrics-addr 127.0.0.1:0 >/dev/null 2>"$log" &
    pid=$!
    until grep -q "serving metrics" "$log"; do sleep 0.01; done
    port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$log")
    (while true; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" || true; sleep 1; done) &
    local scraper=$!
    wait "$pid"
    echo "$EPOCHREALTIME - $start" | bc
    kill "$scraper"
    rm -f "$log"
}

best_plain=999999
best_scraped=999999
for i in $(seq 1 "$rounds"); do
    a=$(plain)
    b=$(scraped)
    echo "round $i: no scrape $a s, 1 Hz scrape $b s"
    best_plain=$(echo "if ($a < $best_plain) $a else $best_plain" | bc)
    best_scraped=$(echo "if ($b < $best_scraped) $b else $best_scraped" | bc)
done
echo "best: no scrape $best_plain s, 1 Hz scrape $best_scraped s, ratio $(echo "scale=3; $best_scraped / $best_plain" | bc)"
