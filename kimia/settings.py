"""kimia's settings, read once per process (``Settings.from_env``) and handed to the assembly.

Every setting kimia takes from the environment is read here and nowhere else (the terminal KEK
excepted: ``kimia.service.terminalkeys`` reads it afresh on each use so a rotated KEK file takes effect
without a restart). docs/operations.md lists them in one table; a test keeps that table and
:data:`ENVIRONMENT` the same. A value that does not parse or is out of range is refused at once
with ``invalid_setting`` naming the variable, rather than misbehaving later.

The card-hash key is kept as given; the assembly (kimia.app) resolves it (``card_key_missing``
outside development mode), so ``kimia init`` can read the settings of a process without a key.
This module imports nothing of kimia but its errors: every layer may read it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast, get_args

from kimia.errors import reject

#: The embedded SQLite file used when no database is named (relative to the working directory).
DEFAULT_DATABASE_URL = "sqlite:///.kimia/kimia.db"
#: Tehran (UTC+03:30): the time zone given to new clubs unless the settings say otherwise.
DEFAULT_UTC_OFFSET_MIN = 210
#: The writer's bounds (kimia.service.writer): a group commit carries at most 256 operations and
#: waits at most 10 ms for a fuller group.
MAX_WRITER_BATCH = 256
MAX_WRITER_WAIT_S = 0.010

MigrationPolicy = Literal["check", "upgrade"]

#: Each setting and the environment variable it is read from.
ENVIRONMENT: dict[str, str] = {
    "database_url": "KIMIA_DATABASE_URL",
    "card_key": "KIMIA_CARD_HASH_KEY",
    "old_card_keys": "KIMIA_CARD_HASH_OLD_KEYS",
    "dev_mode": "KIMIA_DEV_MODE",
    "utc_offset_min": "KIMIA_UTC_OFFSET_MIN",
    "migrations": "KIMIA_MIGRATIONS",
    "writer_max_batch": "KIMIA_WRITER_MAX_BATCH",
    "writer_max_wait_s": "KIMIA_WRITER_MAX_WAIT_S",
    "writer_max_queue": "KIMIA_WRITER_MAX_QUEUE",
    "notify": "KIMIA_NOTIFY",
    "notifications": "KIMIA_NOTIFICATIONS",
    "notify_sink": "KIMIA_NOTIFY_SINK",
    "notify_max_attempts": "KIMIA_NOTIFY_MAX_ATTEMPTS",
    "plugins": "KIMIA_PLUGINS",
    "web_bind": "KIMIA_WEB_BIND",
    "web_workers": "KIMIA_WEB_WORKERS",
    "web_threads": "KIMIA_WEB_THREADS",
    "web_timeout_s": "KIMIA_WEB_TIMEOUT_S",
    "web_access_log": "KIMIA_WEB_ACCESS_LOG",
    "web_secure_cookies": "KIMIA_WEB_SECURE_COOKIES",
    "sms": "KIMIA_SMS",
    "sms_token": "KIMIA_SMS_TOKEN",
    "smtp_url": "KIMIA_SMTP_URL",
    "smtp_from": "KIMIA_SMTP_FROM",
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _invalid(name: str, detail: str) -> Exception:
    return reject("invalid_setting", path=ENVIRONMENT.get(name, name), name=ENVIRONMENT.get(name, name), detail=detail)


@dataclass(frozen=True)
class Settings:
    """What one kimia process runs with. Built by :meth:`from_env`; frozen, so read once."""

    #: The database (``KIMIA_DATABASE_URL``); the CLI's ``--database`` wins over it.
    database_url: str = DEFAULT_DATABASE_URL
    #: The current card-hash key and the older ones still accepted (kimia.service.cardkeys).
    card_key: bytes | None = field(default=None, repr=False)
    old_card_keys: tuple[bytes, ...] = field(default=(), repr=False)
    #: Development mode: the development card-hash key is allowed when no key is set.
    dev_mode: bool = False
    #: Minutes east of UTC given to a new club; a club's own ``utc_offset_min`` governs its days.
    utc_offset_min: int = DEFAULT_UTC_OFFSET_MIN
    #: ``check``: refuse to start unless the schema is at the newest revision (run ``kimia init``);
    #: ``upgrade``: migrate on start (tests, the demo).
    migrations: MigrationPolicy = "check"
    #: The group commit's limits (kimia.service.writer).
    writer_max_batch: int = 64
    writer_max_wait_s: float = 0.001
    writer_max_queue: int = 10_000
    #: Where one-time codes go: ``console`` (or empty) or ``file:<path>``.
    notify: str = ""
    #: Operations write their notification events to the outbox in their transaction (``on``);
    #: ``off`` writes none (the plugins' past-tense hooks are called either way).
    notifications: bool = True
    #: A development channel of the delivery worker (kimia.extras.notifications): ``console``
    #: prints a line per delivery, ``file:<path>`` appends one (the event's id); empty: none.
    notify_sink: str = ""
    #: Attempts of a delivery before it is marked failed (exponential back-off between them).
    notify_max_attempts: int = 8
    #: Plugins to load (``None``: every installed one): names of entry points of the ``kimia`` group,
    #: or dotted module paths (kimia.plugins.manager.load_configured); built-ins are always loaded.
    plugins: tuple[str, ...] | None = None
    #: The web application under gunicorn (kimia.web.gunicorn_conf; docs/operations.md): where it
    #: listens, its processes and threads, how long a silent worker lives, its access log
    #: (``-``: standard output; empty: none).
    web_bind: str = "127.0.0.1:8000"
    web_workers: int = 1
    web_threads: int = 32
    web_timeout_s: int = 30
    web_access_log: str = "-"
    #: The panel's and portal's session cookies are sent over HTTPS only (turn off only for a
    #: demo or development over plain HTTP on this machine).
    web_secure_cookies: bool = True
    #: The messages extra (kimia.extras.messages): where members' SMS go (``console`` or empty,
    #: ``file:<path>``, or an ``http(s)://`` gateway taking ``KIMIA_SMS_TOKEN`` as its bearer
    #: token), and the SMTP server (``smtp://[user:password@]host:port``) and sender of e-mail.
    sms: str = ""
    sms_token: str = field(default="", repr=False)
    smtp_url: str = field(default="", repr=False)
    smtp_from: str = ""

    def __post_init__(self) -> None:
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise _invalid("database_url", "a database URL starts with sqlite:// or postgresql")
        if not -720 <= self.utc_offset_min <= 840:
            raise _invalid("utc_offset_min", "minutes east of UTC, between -720 and 840")
        if self.migrations not in get_args(MigrationPolicy):
            raise _invalid("migrations", "check or upgrade")
        if not 1 <= self.writer_max_batch <= MAX_WRITER_BATCH:
            raise _invalid("writer_max_batch", f"between 1 and {MAX_WRITER_BATCH}")
        if not 0 <= self.writer_max_wait_s <= MAX_WRITER_WAIT_S:
            raise _invalid("writer_max_wait_s", f"seconds between 0 and {MAX_WRITER_WAIT_S}")
        if self.writer_max_queue < 1:
            raise _invalid("writer_max_queue", "a positive number of operations")
        if not self.web_bind or " " in self.web_bind:
            raise _invalid("web_bind", "host:port, or unix:<path>")
        if not 1 <= self.web_workers <= 64 or not 1 <= self.web_threads <= 1024:
            raise _invalid("web_workers" if not 1 <= self.web_workers <= 64 else "web_threads",
                           "workers between 1 and 64, threads between 1 and 1024")
        if not 1 <= self.web_timeout_s <= 3600:
            raise _invalid("web_timeout_s", "seconds between 1 and 3600")
        if self.notify not in ("", "console") and not (self.notify.startswith("file:") and len(self.notify) > 5):
            raise _invalid("notify", "console or file:<path>")
        if self.sms not in ("", "console") and not (self.sms.startswith("file:") and len(self.sms) > 5) \
                and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.sms):
            raise _invalid("sms", "console, file:<path> or an http(s):// gateway address")
        if self.smtp_url and not re.fullmatch(r"smtps?://([^\s@/]+@)?[^\s@/:]+(:\d+)?/?", self.smtp_url):
            raise _invalid("smtp_url", "smtp://[user:password@]host:port")
        if self.notify_sink not in ("", "console") and not (self.notify_sink.startswith("file:") and len(self.notify_sink) > 5):
            raise _invalid("notify_sink", "console or file:<path>")
        if not 1 <= self.notify_max_attempts <= 100:
            raise _invalid("notify_max_attempts", "between 1 and 100")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings of the environment (``os.environ`` unless given), with ``overrides`` (by
        field name, typed values) taking precedence; ``invalid_setting`` for a bad value."""
        if environ is None:
            environ = os.environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values = {name: parse(name, environ[var]) for name, var in ENVIRONMENT.items() if var in environ}
        values.update(overrides)
        return cls(**values)


def parse(name: str, text: str) -> Any:
    """The value of setting ``name`` from its environment variable's text."""
    text = text.strip()
    if name in ("sms", "sms_token", "smtp_url", "smtp_from"):
        return text
    if name in ("database_url", "notify", "notify_sink"):
        return text if text or name != "database_url" else DEFAULT_DATABASE_URL
    if name in ("web_bind", "web_access_log"):
        return text if text or name == "web_access_log" else "127.0.0.1:8000"
    if name == "card_key":
        return text.encode() if text else None
    if name == "old_card_keys":
        return tuple(k.encode() for k in re.split(r"[,\s]+", text) if k)
    if name == "notifications":
        return _flag(name, text or "on")
    if name in ("dev_mode", "web_secure_cookies"):
        return _flag(name, text)
    if name == "migrations":
        return cast(MigrationPolicy, text or "check")
    if name == "plugins":
        return None if not text else () if text.lower() == "none" else tuple(p for p in re.split(r"[,\s]+", text) if p)
    if name == "writer_max_wait_s":
        return _number(name, text, float)
    return _number(name, text, int)


def _flag(name: str, text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise _invalid(name, "1 or 0 (true/false, yes/no, on/off)")


def _number(name: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise _invalid(name, f"not a number: {text!r}") from None


__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_UTC_OFFSET_MIN", "ENVIRONMENT", "MigrationPolicy", "Settings", "parse"]
