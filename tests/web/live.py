"""The web application served for real: gunicorn in its own process (and process group) on a free
port over a prepared database, driven over HTTP with the standard library.

- :func:`prepare` builds a club (tests/service/builders.py ``build_club``) on the database, enrols
  members, gives the first ``credited`` of them gift credit, and makes an integration key.
- :class:`Server` starts gunicorn with kimia.web.gunicorn_conf, waits for ``/healthz``; ``kill9()``
  kills the whole process group with SIGKILL (master and worker: a crash), ``stop()`` stops it.
- :func:`call` is one HTTP request on its own connection: ``(status, json)``, or an ``OSError``
  when the server is not there or went away mid-request (the caller did not get an answer).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kimia.app import assemble
from kimia.service import apikeys
from kimia.settings import Settings
from service.builders import FakeClock, build_club, mobile

#: Rates of the test key: the tests measure correctness under load, not the rate limiter.
UNLIMITED_PER_MIN = 1_000_000


@dataclass
class LiveWorld:
    url: str
    club_id: int
    merchant_id: int
    members: list[int]
    key: str
    key_id: int
    credit_rial: int


def prepare(url: str, *, members: int = 4, credited: int = 1, credit_rial: int = 0) -> LiveWorld:
    """A club on ``url`` (migrated here; the server only checks the schema), ``members`` members,
    the first ``credited`` with ``credit_rial`` of gift credit each, an integration key."""
    clock = FakeClock(int(time.time()))  # the world is made "now": the server runs on the real clock
    with assemble(Settings.from_env(database_url=url, migrations="upgrade"), clock=clock) as service:
        world = build_club(service, clock)
        ids = [world.enroll(identifiers=[("mobile", mobile(3_000_000 + i))], name_fa=f"عضو {i}") for i in range(members)]
        for i, member in enumerate(ids[:credited]):
            if credit_rial:
                service.charge(world.club_id, member, actor="test", reason="live test credit", idem_key=f"live-credit-{i}",
                               kind="gift_credit", amount_rial=credit_rial, source={"type": "club", "id": world.club_id})
        row, token = apikeys.create(service, kind="integration", club_id=world.club_id, actor="test", rate_per_min=UNLIMITED_PER_MIN)
        return LiveWorld(url, world.club_id, world.merchants["cafe"], ids, token, row.id, credit_rial)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """gunicorn serving ``kimia.web.wsgi:app`` on ``url``; ``env`` adds settings (KIMIA_WEB_*)."""

    url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    #: The command (default: gunicorn with kimia.web.gunicorn_conf); ``{port}`` is replaced.
    argv: list[str] = field(default_factory=lambda: [sys.executable, "-m", "gunicorn", "-c", "python:kimia.web.gunicorn_conf",
                                                     "kimia.web.wsgi:app"])

    def start(self, timeout_s: float = 60.0) -> Server:
        self.port = self.port or free_port()
        env = dict(os.environ, KIMIA_DATABASE_URL=self.url, KIMIA_WEB_BIND=f"127.0.0.1:{self.port}", KIMIA_WEB_ACCESS_LOG="",
                   KIMIA_DEV_MODE="1")
        env.update(self.env)
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        with self.log.open("ab") as log:
            # Its own session: the process group is the master and its workers, killed as one.
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if call(self.port, "GET", "/healthz", timeout_s=2.0)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout_s} s: {self.log.read_text()[-2000:]}")

    def kill9(self) -> None:
        """SIGKILL to the whole process group: nothing is flushed, no hook runs."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """A graceful stop (SIGTERM: requests in flight finish, the service closes), else SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def call(port: int, method: str, path: str, *, key: str | None = None, body: Any = None, idem: str | None = None,
         timeout_s: float = 30.0) -> tuple[int, Any]:
    """One request on a fresh connection: the status and the decoded JSON answer (None if empty)."""
    headers = {"Accept-Language": "en"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if idem is not None:
        headers["Idempotency-Key"] = idem
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    except http.client.HTTPException as error:  # a connection cut mid-answer: no answer
        raise ConnectionError(str(error)) from error
    finally:
        conn.close()


def purchase_body(world: LiveWorld, member: int, amount_rial: int, **extra: Any) -> dict[str, Any]:
    return {"merchant_id": world.merchant_id, "member": {"kind": "id", "value": str(member)}, "amount_rial": amount_rial, **extra}
