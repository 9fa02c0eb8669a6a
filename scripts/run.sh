#!/usr/bin/env bash
# Set up and run kimia: builds the core (optimised), creates the embedded SQLite database with a
# demo club (a meta-club, clubs and a sub-club, merchants with terminals, members, rules, tiers,
# vouchers, lotteries and a month of purchases), starts the ISO 8583 terminal host on
# 127.0.0.1:8583, drives it for a few seconds with the terminal simulator (two of the demo's
# terminals; KIMIA_SIMULATE_SECONDS, 0 to skip), checks the books, and keeps serving terminals
# until Ctrl-C. Extra arguments go to `kimia demo` (e.g. --purchases 1000). The demo leaves its
# members' cards in a demo-only roster file (KIMIA_DEMO_ROSTER; never in the database); the
# simulator reads it and names members holding credit by card, so their redemptions are answered
# (00; 51 or 57 once one has spent what is valid at the terminal's merchant), not declined 55.
set -euo pipefail
cd "$(dirname "$0")/.."
KIMIA_RELEASE=1 bash scripts/setup.sh
export KIMIA_DATABASE_URL=${KIMIA_DATABASE_URL:-sqlite:///.kimia/kimia.db}
PORT=${KIMIA_TERMINAL_PORT:-8583}
SECONDS_TO_SIMULATE=${KIMIA_SIMULATE_SECONDS:-5}
# The demo hashes its made-up cards with the development key, so the host serving it runs in
# development mode too (a real KIMIA_CARD_HASH_KEY, when set, is used instead).
export KIMIA_DEV_MODE=${KIMIA_DEV_MODE:-1}
.venv/bin/kimia init
ROSTER=${KIMIA_DEMO_ROSTER:-.kimia/demo.roster.json}
.venv/bin/kimia demo --reset --roster "$ROSTER" "$@"
echo
# --allow-unkeyed: the demo's terminals have no MAC key (a production host refuses them; docs/operations.md).
.venv/bin/kimia terminal serve --host 127.0.0.1 --port "$PORT" --allow-unkeyed &
HOST=$!
trap 'kill "$HOST" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$HOST" 2>/dev/null || { echo "the terminal host did not start" >&2; exit 1; }
  sleep 0.1
done
if [ "$SECONDS_TO_SIMULATE" != "0" ]; then
  echo
  echo "== ${SECONDS_TO_SIMULATE} s of the terminal simulator against the host (two of the demo's terminals)"
  .venv/bin/python -m kimia.terminal.simulator --host 127.0.0.1 --port "$PORT" --terminals 2 \
    --seconds "$SECONDS_TO_SIMULATE" --database "$KIMIA_DATABASE_URL" --roster "$ROSTER"
  .venv/bin/kimia check
fi
echo
echo "The terminal host keeps serving on 127.0.0.1:$PORT (Ctrl-C to stop). Drive it again with:"
echo "  .venv/bin/python -m kimia.terminal.simulator --host 127.0.0.1 --port $PORT --terminals 2 --seconds 5 --database $KIMIA_DATABASE_URL --roster $ROSTER"
wait "$HOST"
