#!/usr/bin/env bash
# Set up kimia from a fresh checkout: a virtual environment in .venv with every Python
# dependency (read from pyproject.toml), then the Rust core built into it (kimia._core).
# Sourced by run.sh and test.sh. KIMIA_RELEASE=1 builds the core optimised (benchmarks, demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! command -v cargo >/dev/null 2>&1; then
  echo "kimia needs a Rust toolchain (cargo) on PATH" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall the Python dependencies only when pyproject.toml changes.
stamp=.venv/.kimia-deps-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python - > .venv/requirements.txt <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["dev"]))
PY
  .venv/bin/python -m pip install -q -r .venv/requirements.txt
  rm -f .venv/.kimia-deps-*
  touch "$stamp"
fi
if [ "${KIMIA_RELEASE:-0}" = "1" ]; then
  .venv/bin/maturin develop -q --release
else
  .venv/bin/maturin develop -q
fi
