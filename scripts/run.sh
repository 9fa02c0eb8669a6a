#!/usr/bin/env bash
# Set up and run kimia: builds the core (optimised), creates the embedded SQLite database with a
# demo club (a meta-club, clubs and a sub-club, merchants with terminals, members, rules, tiers,
# vouchers, lotteries and a month of purchases), then serves POS terminals (ISO 8583) on
# 127.0.0.1:8583 until Ctrl-C. Extra arguments go to `kimia demo` (e.g. --purchases 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
KIMIA_RELEASE=1 bash scripts/setup.sh
export KIMIA_DATABASE_URL=${KIMIA_DATABASE_URL:-sqlite:///.kimia/kimia.db}
.venv/bin/kimia init
.venv/bin/kimia demo --reset "$@"
echo
echo "Try a terminal: .venv/bin/python -m kimia.terminal.simulator --host 127.0.0.1 --port 8583 --terminals 4 --seconds 5"
exec .venv/bin/kimia terminal serve --host 127.0.0.1 --port "${KIMIA_TERMINAL_PORT:-8583}"
