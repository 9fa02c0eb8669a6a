#!/usr/bin/env bash
# Set up and run kimia: builds the core (optimised), creates the embedded SQLite database with a
# demo club (a meta-club, clubs and a sub-club, merchants with terminals, members, rules, tiers,
# vouchers, lotteries and a month of purchases), starts the ISO 8583 terminal host on
# 127.0.0.1:8583, drives it for a few seconds with the terminal simulator (two of the demo's
# terminals; KIMIA_SIMULATE_SECONDS, 0 to skip), checks the books, starts the web application
# (the JSON API under gunicorn) on 127.0.0.1:8000 (KIMIA_WEB_PORT) with a demo management key and
# integration key, and the panel and member portal (/panel/, /portal/) with the demo's logins
# (a user of each kind; a member signs in to the portal with a one-time code written to
# .kimia/messages.jsonl, KIMIA_NOTIFY), and keeps serving both until Ctrl-C. Extra arguments go to `kimia demo` (e.g. --purchases 1000). The demo leaves its
# members' cards in a demo-only roster file (KIMIA_DEMO_ROSTER; never in the database); the
# simulator reads it and names members holding credit by card, so their redemptions are answered
# (00; 51 or 57 once one has spent what is valid at the terminal's merchant), not declined 55.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .kimia  # the demo's logs, roster and messages live here whatever KIMIA_DATABASE_URL says
KIMIA_RELEASE=1 bash scripts/setup.sh
export KIMIA_DATABASE_URL=${KIMIA_DATABASE_URL:-sqlite:///.kimia/kimia.db}
PORT=${KIMIA_TERMINAL_PORT:-8583}
WEB_PORT=${KIMIA_WEB_PORT:-8000}
SECONDS_TO_SIMULATE=${KIMIA_SIMULATE_SECONDS:-5}
# The demo hashes its made-up cards with the development key, so the host serving it runs in
# development mode too (a real KIMIA_CARD_HASH_KEY, when set, is used instead).
export KIMIA_DEV_MODE=${KIMIA_DEV_MODE:-1}
# Members' one-time codes (the portal's sign-in) go to a file instead of an SMS gateway.
export KIMIA_NOTIFY=${KIMIA_NOTIFY:-file:.kimia/messages.jsonl}
.venv/bin/kimia init
ROSTER=${KIMIA_DEMO_ROSTER:-.kimia/demo.roster.json}
.venv/bin/kimia demo --reset --roster "$ROSTER" "$@"
echo
# --allow-unkeyed: the demo's terminals have no MAC key (a production host refuses them; docs/operations.md).
.venv/bin/kimia terminal serve --host 127.0.0.1 --port "$PORT" --allow-unkeyed &
HOST=$!
WEB=
NOTIFY=
# SIGTERM to gunicorn's master is its graceful stop: requests in flight finish, the service closes.
# SIGTERM to the delivery worker stops it after its pass.
trap 'kill $HOST $WEB $NOTIFY 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
# The web application: gunicorn, one worker with threads (kimia/web/gunicorn_conf.py); its log and
# access log (paths only) go to .kimia/web.log.
# The demo serves plain HTTP on loopback: its session cookies cannot be Secure-only (KIMIA_WEB_SECURE_COOKIES=0).
KIMIA_WEB_SECURE_COOKIES=0 .venv/bin/kimia web gunicorn --bind "127.0.0.1:$WEB_PORT" > .kimia/web.log 2>&1 &
WEB=$!
# The notification delivery worker (kimia notify run): every event of the outbox (purchases,
# enrolments, tier changes, ...) to its channels; in the demo the development sink writes a line
# per delivery to .kimia/deliveries.txt (KIMIA_NOTIFY_SINK). Its log: .kimia/notify.log.
KIMIA_NOTIFY_SINK=${KIMIA_NOTIFY_SINK:-file:.kimia/deliveries.txt} .venv/bin/kimia notify run > .kimia/notify.log 2>&1 &
NOTIFY=$!
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
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$WEB_PORT") 2>/dev/null; then break; fi
  kill -0 "$WEB" 2>/dev/null || { echo "the web application did not start: .kimia/web.log" >&2; tail -5 .kimia/web.log >&2; exit 1; }
  sleep 0.1
done
# A club of the demo with a merchant and a member of its own, for the keys and the example purchase.
read -r CLUB MERCHANT MEMBER < <(.venv/bin/python - <<'EOF'
from kimia.app import assemble
from kimia.settings import Settings

with assemble(Settings.from_env()) as service, service.reading() as tx:
    print(*tx.one(
        "SELECT m.club_id, m.id, MIN(p.id) FROM merchants m JOIN members p ON p.club_id = m.club_id"
        " GROUP BY m.club_id, m.id ORDER BY m.id LIMIT 1"))
EOF
)
MANAGEMENT_KEY=$(.venv/bin/kimia api-key create --kind management --club "$CLUB" --label "demo back office" 2>/dev/null)
INTEGRATION_KEY=$(.venv/bin/kimia api-key create --kind integration --club "$CLUB" --label "demo integration" 2>/dev/null)
echo
echo "The web application (JSON API) serves on http://127.0.0.1:$WEB_PORT/ (log: .kimia/web.log)"
echo "  reference: http://127.0.0.1:$WEB_PORT/api/v1/docs · OpenAPI: http://127.0.0.1:$WEB_PORT/api/v1/openapi.json"
echo "  demo keys of club $CLUB (shown once; the database keeps only their hashes):"
echo "    management:  $MANAGEMENT_KEY"
echo "    integration: $INTEGRATION_KEY"
echo "  a purchase (a fresh Idempotency-Key each time; the same key again replays the first receipt):"
echo "    curl -s -X POST http://127.0.0.1:$WEB_PORT/api/v1/purchases -H 'Authorization: Bearer $INTEGRATION_KEY'" \
     "-H \"Idempotency-Key: demo-\$(date +%s%N)\" -H 'Content-Type: application/json'" \
     "-d '{\"merchant_id\": $MERCHANT, \"member\": {\"kind\": \"id\", \"value\": \"$MEMBER\"}, \"amount_rial\": 1500000}'"
echo
echo "The panel (club staff, merchants, the platform's operator) serves on http://127.0.0.1:$WEB_PORT/panel/ and the"
echo "member portal on http://127.0.0.1:$WEB_PORT/portal/ (Persian; English is one click away in the header)."
echo "The extras at the demo's café: sign in as cafe for Attendance, the Cash book, Daily income and Appointments (as admin:"
echo "  Messages for SMS, e-mail and webhook templates); members book in the portal's Appointments. On a terminal they are"
echo "  processing codes 93 (attendance), 94 (expense), 95 (cash receipt), 96 (appointments): docs/extras.md, docs/terminal-protocol.md."
# The demo's logins (kimia demo made the users; this prints them again with the addresses).
.venv/bin/python - "$ROSTER" "http://127.0.0.1:$WEB_PORT" "$KIMIA_NOTIFY" <<'EOF'
import sys

from kimia.app import assemble
from kimia.cli import demo_logins_text
from kimia.settings import Settings
from kimia.world import Roster

roster, base_url, notify = sys.argv[1:4]
with assemble(Settings.from_env()) as service:
    print(demo_logins_text(service, roster=Roster.load(roster), base_url=base_url, notify=notify))
EOF
echo
echo "The notification worker delivers the outbox (log: .kimia/notify.log; deliveries: .kimia/deliveries.txt; counts: .venv/bin/kimia notify status)."
echo "The terminal host keeps serving on 127.0.0.1:$PORT, the web application on 127.0.0.1:$WEB_PORT (Ctrl-C to stop them)."
echo "Drive the host again with:"
echo "  .venv/bin/python -m kimia.terminal.simulator --host 127.0.0.1 --port $PORT --terminals 2 --seconds 5 --database $KIMIA_DATABASE_URL --roster $ROSTER"
wait "$HOST"
