"""The README's run command (scripts/run.sh) names the panel, the member portal and the demo's
logins (issue 16): its own text, and the logins its embedded script prints, run here against a
small demo exactly as the script runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kimia.cli import main
from kimia.world.logins import DEMO_USERS

ROOT = Path(__file__).resolve().parent.parent
RUN = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
#: The Python the run command feeds to ``.venv/bin/python -`` to print the logins.
LOGINS_SCRIPT = next((m for m in re.finditer(r"<<'EOF'\n(.*?)\nEOF\n", RUN, flags=re.S) if "demo_logins_text" in m.group(1)), None)


def test_the_run_command_names_the_panel_and_the_portal() -> None:
    assert 'http://127.0.0.1:$WEB_PORT/panel/' in RUN
    assert 'http://127.0.0.1:$WEB_PORT/portal/' in RUN
    # plain HTTP on loopback: the web process's cookies cannot be Secure-only
    assert re.search(r"^KIMIA_WEB_SECURE_COOKIES=0 \.venv/bin/kimia web gunicorn", RUN, flags=re.M)
    # the portal's one-time codes go to a file the person can read
    assert "export KIMIA_NOTIFY=${KIMIA_NOTIFY:-file:.kimia/messages.jsonl}" in RUN
    assert LOGINS_SCRIPT, "run.sh prints the demo's logins with an embedded script"


def test_the_run_command_prints_a_login_of_every_kind(tmp_path: Path) -> None:
    assert LOGINS_SCRIPT
    url = f"sqlite:///{tmp_path}/kimia.db"
    roster = tmp_path / "demo.roster.json"
    env_args = ["--database", url]
    runner = CliRunner(env={"KIMIA_DEV_MODE": "1", "KIMIA_NOTIFY": f"file:{tmp_path}/messages.jsonl"})
    assert runner.invoke(main, [*env_args, "init"]).exit_code == 0
    built = runner.invoke(main, [*env_args, "demo", "--purchases", "5", "--roster", str(roster)], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    assert "panel logins" in built.stdout and "/portal/login?club=" in built.stdout

    printed = subprocess.run(
        [sys.executable, "-", str(roster), "http://127.0.0.1:8000", f"file:{tmp_path}/messages.jsonl"],
        input=LOGINS_SCRIPT.group(1), text=True, capture_output=True, timeout=120, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "KIMIA_DATABASE_URL": url, "KIMIA_DEV_MODE": "1"}, check=False)
    assert printed.returncode == 0, printed.stderr
    out = printed.stdout
    assert "http://127.0.0.1:8000/panel/login" in out
    for login, role, password, _ in DEMO_USERS:  # a user of every kind, with the password that signs in
        assert re.search(rf"^{re.escape(login)}\s+{role}\s+{re.escape(password)}\s", out, flags=re.M), (login, out)
    portal = re.search(r"http://127\.0\.0\.1:8000/portal/login\?club=(\d+) · mobile (09\d{9}) \(member (\d+)\);"
                       r" the one-time code goes to the last line of (\S+)", out)
    assert portal, out
    assert portal.group(4) == f"{tmp_path}/messages.jsonl"
