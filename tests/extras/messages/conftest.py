"""Helpers of the messages extra's tests: outbox events and deliveries written as the worker would,
a local HTTP receiver (an SMS gateway, a webhook endpoint) that answers what a test tells it, and
a minimal local SMTP server."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .helpers import add_delivery, delivery, emit, event_of  # noqa: F401 - the tests import them from here
from web.conftest import Api, api, clock  # noqa: F401 - fixtures of the web tests, used here too
from web.panel.conftest import panel  # noqa: F401


# --- a local HTTP receiver ------------------------------------------------------------------------------


@dataclass
class Receiver:
    """Answers each POST with the next status of ``answers`` (then 200), recording every request."""

    answers: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = found.record(self.path, {k: v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


# --- a minimal SMTP server ---------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """Messages the local SMTP server accepted; ``refuse`` makes it refuse recipients with a code."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    refuse: int | None = None


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            def say(line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            say("220 localhost test SMTP")
            sender, rcpts, user = "", [], None
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-localhost")
                    say("250-AUTH PLAIN")
                    say("250 8BITMIME")
                elif verb == "AUTH":
                    user = line
                    say("235 ok")
                elif verb == "MAIL":
                    sender, rcpts = line[10:].strip("<>"), []
                    say("250 ok")
                elif verb == "RCPT":
                    if box.refuse:
                        say(f"{box.refuse} no such mailbox")
                    else:
                        rcpts.append(line[8:].strip("<>"))
                        say("250 ok")
                elif verb == "DATA":
                    say("354 go on")
                    data = []
                    while True:
                        part = self.rfile.readline()
                        if part in (b".\r\n", b".\n", b""):
                            break
                        data.append(part[1:] if part.startswith(b"..") else part)
                    box.messages.append({"from": sender, "to": rcpts, "data": b"".join(data), "auth": user})
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
