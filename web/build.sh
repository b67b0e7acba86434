#!/usr/bin/env bash
# Builds the browser page into web/dist/: index.html, dais.js (wasm-bindgen's glue) and dais_bg.wasm.
# Installs what it needs first: the wasm32 target, clang (SQLite's C is compiled for wasm32; gcc cannot), and
# wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock. Serve the result with web/serve.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dais-target}"

say() { echo "web/build.sh: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

if ! command -v clang >/dev/null; then
    say "installing clang (compiles SQLite for wasm32)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang >/dev/null
fi

# wasm-bindgen's CLI must match the library in Cargo.lock exactly, or its output will not load.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$version" ]; then
    say "no wasm-bindgen in Cargo.lock"
    exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
    say "installing wasm-bindgen-cli $version (a few minutes, once)"
    # --force: a stale record of an earlier install (binary since removed) would otherwise skip it.
    # Not through .ci/run's clippy wrapper: that lints the package being built, and here that is wasm-bindgen-cli.
    env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo install --force wasm-bindgen-cli --version "=$version"
fi

say "compiling for wasm32 (profile 'web': optimised for size)"
cargo build --target wasm32-unknown-unknown --profile web --bin dais

dist=web/dist
rm -rf "$dist"
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --out-dir "$dist" --out-name dais \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/web/dais.wasm"
cp web/index.html "$dist/"
cp assets/icon.png "$dist/icon.png"

raw=$(stat -c %s "$dist/dais_bg.wasm")
gzipped=$(gzip -9 -c "$dist/dais_bg.wasm" | wc -c)
awk -v dist="$dist" -v raw="$raw" -v gz="$gzipped" 'BEGIN {
    printf "web/build.sh: %s ready: dais_bg.wasm is %.1f MiB, %.1f MiB gzipped\n", dist, raw / 1048576, gz / 1048576 }' >&2
