#!/usr/bin/env bash
# The sweep benchmarks of issue 14 (a release benchmark command, not a timed test; the machines are noisy):
#   1. 200 runs of 40 agents x 100 ticks (5 rules x 4 fractions x 10 seeds): `dais sweep --jobs 1`, `--jobs 2`, and
#      a shell loop of 200 `dais run` processes with the same configs and seeds; prints each wall time and the ratios.
#   2. A sweep of 10,000 tiny runs (8 agents x 10 ticks): its peak resident set (/usr/bin/time -v).
# Usage: tools/sweep-bench.sh [DAIS_BINARY]   (default: the release build in $CARGO_TARGET_DIR; build it with plain
#   `cargo build --release`, the desktop binary users run: its start, about 10 ms, is part of what a shell loop pays)
set -euo pipefail
dais="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/dais-target}/release/dais}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/two-hundred.ron" <<'EOF'
(
    base: Scenario("default"),
    set: [("simulation.agents", "40"), ("simulation.steps", "100")],
    vary: [
        (key: "consensus.rule", values: List(["majority", "quorum", "reputation_weighted", "bft", "central_authority"])),
        (key: "faults.byzantine_fraction", values: List(["0.0", "0.1", "0.2", "0.3"])),
    ],
    seeds: Count(10),
)
EOF
cat >"$work/tiny.ron" <<'EOF'
(
    base: Scenario("default"),
    set: [("simulation.agents", "8"), ("simulation.steps", "10"), ("traffic.campaigns[0].start_tick", "4"), ("detector.warmup", "3")],
    vary: [(key: "traffic.profile_spread", values: Linspace(start: 0.2, stop: 0.4, n: 100))],
    seeds: Count(100),
)
EOF

seconds() { local start=$EPOCHREALTIME; "$@" >/dev/null 2>&1; echo "$EPOCHREALTIME - $start" | bc; }

one=$(seconds "$dais" sweep "$work/two-hundred.ron" --out "$work/jobs1" --jobs 1 --quiet)
two=$(seconds "$dais" sweep "$work/two-hundred.ron" --out "$work/jobs2" --jobs 2 --quiet)
loop() {
    for rule in majority quorum reputation_weighted bft central_authority; do
        for fraction in 0.0 0.1 0.2 0.3; do
            for seed in $(seq 1 10); do
                "$dais" run --no-render --quiet --agents 40 --steps 100 --seed "$seed" \
                    --set "consensus.rule=$rule" --set "faults.byzantine_fraction=$fraction"
            done
        done
    done
}
shell=$(seconds loop)
echo "200 runs of 40 agents x 100 ticks:"
echo "  sweep --jobs 1      $one s"
echo "  sweep --jobs 2      $two s   ($(echo "scale=2; $one / $two" | bc)x --jobs 1)"
echo "  shell loop of runs  $shell s   (sweep --jobs 2 is $(echo "scale=2; $shell / $two" | bc)x faster)"

/usr/bin/time -v "$dais" sweep "$work/tiny.ron" --out "$work/tiny" --quiet 2>"$work/time.txt"
rows=$(($(wc -l <"$work/tiny/runs.csv") - 1))
echo "10,000 tiny runs: $rows rows, $(grep -E 'Elapsed' "$work/time.txt" | awk '{print $NF}') wall," \
    "peak RSS $(grep 'Maximum resident' "$work/time.txt" | awk '{print $NF}') KB"
