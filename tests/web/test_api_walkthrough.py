"""docs/api.md's walkthrough, run as an integrator would: its shell blocks, in order, with curl,
against the demo served by gunicorn. The member and operation ids the document shows are the
demo's; the test puts in the ones this run's answers give."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .live import Server

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def walkthrough_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## From a key to a purchase, with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


ROOT = DOC.parents[1]


def run(block: str, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-euc", block], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, (block, done.stderr)
    return done.stdout


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    env = dict(os.environ, KIMIA_DATABASE_URL=url, KIMIA_DEV_MODE="1")
    kimia = str(Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "kimia")
    kimia = kimia if Path(kimia).exists() else "kimia"
    subprocess.run([kimia, "init"], env=env, check=True, capture_output=True)
    subprocess.run([kimia, "demo", "--purchases", "20"], env=env, check=True, capture_output=True)
    blocks = walkthrough_blocks()
    assert len(blocks) == 9, "the walkthrough's steps changed: update this test"
    key = run(blocks[0], env).strip()  # the document's own way to make a key
    assert key.startswith("kimia_ik_")
    with Server(url, tmp_path / "web.log") as server:
        shell = dict(env)
        outputs: list[str] = []
        for block in blocks[1:]:
            block = block.replace("http://127.0.0.1:8000/api/v1", f"http://127.0.0.1:{server.port}/api/v1")
            block = block.replace("kimia_ik_…", key)
            if len(outputs) >= 3:
                member = json.loads(outputs[2])["member_id"]
                block = block.replace("/members/61/", f"/members/{member}/")
            if len(outputs) >= 4:
                block = block.replace('"op_id": 350', f'"op_id": {json.loads(outputs[3])["op_id"]}')
            if block.lstrip().startswith("export"):
                for name, value in re.findall(r"export (\w+)=(\S+)", block):
                    shell[name] = value
                outputs.append("")
                continue
            outputs.append(run(block, shell))
    merchants, enrolled, bought, again, history, refund, refused = outputs[1:]
    assert json.loads(merchants)["items"][0]["id"] == 1
    assert json.loads(enrolled)["identifiers"][0] == {"kind": "mobile", "display": "+989125550101"}
    receipt = json.loads(bought)
    assert receipt["kind"] == "purchase" and receipt["points_earned"] > 0 and receipt["explanation_fa"]
    assert "Idempotent-Replayed: true" in again and f'"op_id":{receipt["op_id"]}' in again.replace(" ", "")
    balances, end = json.JSONDecoder().raw_decode(history)  # two answers, one after the other
    listed = json.loads(history[end:])
    assert balances["points"] == receipt["balance_points"]
    assert listed["items"][0]["op_id"] == receipt["op_id"]
    assert json.loads(refund)["kind"] == "refund" and json.loads(refund)["amount_rial"] == -1_000_000
    assert json.loads(refused)["error"]["code"] == "verification_required"


@pytest.fixture(autouse=True)
def _curl_is_there() -> None:
    assert subprocess.run(["curl", "--version"], capture_output=True).returncode == 0, "the walkthrough needs curl"
