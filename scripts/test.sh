#!/usr/bin/env bash
# Set up and run every test of kimia: Rust unit and property tests, clippy, the typed stub
# check, mypy --strict, and the Python suite (pytest; the browser tests drive Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== PostgreSQL (from Debian's packages, on loopback)"
KIMIA_TEST_PG_URL=$(bash scripts/pg.sh)
export KIMIA_TEST_PG_URL
echo "   $KIMIA_TEST_PG_URL"

echo "== chromium and chromium-driver (from Debian's packages; the browser tests drive them headless)"
bash scripts/browser.sh
export KIMIA_CHROMIUM=/usr/bin/chromium KIMIA_CHROMEDRIVER=/usr/bin/chromedriver

echo "== cargo test (core, no Python)"
cargo test --manifest-path core/Cargo.toml --quiet
echo "== cargo clippy"
cargo clippy --manifest-path core/Cargo.toml --all-targets --features python --quiet -- -D warnings
echo "== stubtest (kimia/_core.pyi against the built module)"
.venv/bin/python -m mypy.stubtest kimia._core
echo "== mypy --strict"
.venv/bin/mypy --strict kimia
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
