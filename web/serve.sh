#!/usr/bin/env bash
# Serves the browser page on http://127.0.0.1:${PORT:-8080}/, building it first if web/dist/ is missing.
set -euo pipefail
cd "$(dirname "$0")"
[ -f dist/dais_bg.wasm ] || ./build.sh
port="${PORT:-8080}"
echo "web/serve.sh: open http://127.0.0.1:$port/ (Ctrl-C stops)" >&2
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory dist
