#!/usr/bin/env bash
# Set up and run kimia: builds the core (optimised) and runs the demo club.
set -euo pipefail
cd "$(dirname "$0")/.."
KIMIA_RELEASE=1 bash scripts/setup.sh
exec .venv/bin/python -m kimia.demo "$@"
