#!/usr/bin/env bash
# The browser test: builds the page (web/build.sh), records a run with the native binary, then opens the page in
# Debian's headless Chromium and checks it (web/test/browser-test.mjs): ready line and no errors, a drawn canvas,
# Play advancing the tick, the run's download, the native recording replayed with its tick count, resizing, and
# the words shown without WebGL2. Finally the page's download must pass `dais ledger verify`.
# Screenshots land in web/test/out/. Installs chromium (apt) and puppeteer-core (npm ci) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dais-target}"

say() { echo "web/test.sh: $*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d web/test/node_modules/puppeteer-core ]; then
    say "installing puppeteer-core (npm ci)"
    (cd web/test && npm ci --no-audit --no-fund --loglevel=error)
fi

web/build.sh

# The native binary as the test build makes it (the same feature set as `cargo test`, so nothing is rebuilt).
cargo test --no-run --quiet 2>/dev/null || cargo test --no-run
dais="$CARGO_TARGET_DIR/debug/dais"
out=web/test/out
rm -rf "$out"
mkdir -p "$out"
ticks=200
"$dais" run --scenario classroom --agents 30 --seed 7 --steps "$ticks" --no-render --quiet \
    --ledger "$out/native.sqlite"

node web/test/browser-test.mjs web/dist "$out/native.sqlite" "$ticks" "$out"

for download in "$out"/dais-seed*.sqlite; do
    say "verifying the page's download $(basename "$download")"
    report=$("$dais" ledger verify "$download")
    echo "$report"
    # A whole classroom run holds signatures, ballots and decisions: an empty chain would prove little.
    if grep -q " 0 chained rows" <<<"$report"; then
        say "the download holds no chained rows"
        exit 1
    fi
done
