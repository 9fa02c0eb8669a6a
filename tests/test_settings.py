"""Settings (issue 14, item 3): read once from the environment, validated, documented, and the only
reader of kimia's environment variables."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from kimia.errors import Rejected
from kimia.settings import DEFAULT_DATABASE_URL, ENVIRONMENT, Settings

ROOT = Path(__file__).resolve().parent.parent
KEY = "k" * 40

EVERYTHING = {
    "KIMIA_DATABASE_URL": "postgresql+psycopg://kimia@db/kimia",
    "KIMIA_CARD_HASH_KEY": KEY,
    "KIMIA_CARD_HASH_OLD_KEYS": "o" * 32 + ", " + "p" * 32,
    "KIMIA_DEV_MODE": "yes",
    "KIMIA_UTC_OFFSET_MIN": "-300",
    "KIMIA_MIGRATIONS": "upgrade",
    "KIMIA_WRITER_MAX_BATCH": "128",
    "KIMIA_WRITER_MAX_WAIT_S": "0.002",
    "KIMIA_WRITER_MAX_QUEUE": "500",
    "KIMIA_NOTIFY": "file:/tmp/sms.jsonl",
    "KIMIA_NOTIFICATIONS": "off",
    "KIMIA_NOTIFY_SINK": "file:/tmp/deliveries.txt",
    "KIMIA_NOTIFY_MAX_ATTEMPTS": "5",
    "KIMIA_PLUGINS": "receipts, attendance",
    "KIMIA_WEB_BIND": "0.0.0.0:8080",
    "KIMIA_WEB_WORKERS": "2",
    "KIMIA_WEB_THREADS": "16",
    "KIMIA_WEB_TIMEOUT_S": "60",
    "KIMIA_WEB_ACCESS_LOG": "",
    "KIMIA_WEB_SECURE_COOKIES": "0",
    "KIMIA_SMS": "https://sms.example.ir/send",
    "KIMIA_SMS_TOKEN": "sms-token",
    "KIMIA_SMTP_URL": "smtp://mail:secret@mail.example.ir:587",
    "KIMIA_SMTP_FROM": "club@example.ir",
}


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///.kimia/kimia.db"
    assert (settings.card_key, settings.dev_mode, settings.migrations, settings.utc_offset_min) == (None, False, "check", 210)
    assert (settings.writer_max_batch, settings.writer_max_wait_s, settings.writer_max_queue) == (64, 0.001, 10_000)
    assert settings.plugins is None and settings.notify == ""


def test_every_variable_is_read() -> None:
    assert set(EVERYTHING) == set(ENVIRONMENT.values())
    settings = Settings.from_env(EVERYTHING)
    assert settings == Settings(
        database_url="postgresql+psycopg://kimia@db/kimia", card_key=KEY.encode(), old_card_keys=(b"o" * 32, b"p" * 32),
        dev_mode=True, utc_offset_min=-300, migrations="upgrade", writer_max_batch=128, writer_max_wait_s=0.002,
        writer_max_queue=500, notify="file:/tmp/sms.jsonl", notifications=False, notify_sink="file:/tmp/deliveries.txt",
        notify_max_attempts=5, plugins=("receipts", "attendance"), web_bind="0.0.0.0:8080",
        web_workers=2, web_threads=16, web_timeout_s=60, web_access_log="", web_secure_cookies=False,
        sms="https://sms.example.ir/send", sms_token="sms-token", smtp_url="smtp://mail:secret@mail.example.ir:587",
        smtp_from="club@example.ir",
    )


def test_overrides_win_over_the_environment_and_unknown_ones_are_refused() -> None:
    settings = Settings.from_env(EVERYTHING, database_url="sqlite:///x.db", migrations="check", dev_mode=False)
    assert (settings.database_url, settings.migrations, settings.dev_mode) == ("sqlite:///x.db", "check", False)
    assert settings.writer_max_batch == 128  # the rest still from the environment
    with pytest.raises(TypeError, match="max_batch"):
        Settings.from_env({}, max_batch=8)


def test_settings_are_read_once_and_frozen() -> None:
    environ = {"KIMIA_WRITER_MAX_BATCH": "32"}
    settings = Settings.from_env(environ)
    environ["KIMIA_WRITER_MAX_BATCH"] = "16"  # a later change of the environment is not seen
    assert settings.writer_max_batch == 32
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.writer_max_batch = 16  # type: ignore[misc]


def test_keys_stay_out_of_the_settings_repr() -> None:
    assert KEY not in repr(Settings.from_env(EVERYTHING)) and "o" * 32 not in repr(Settings.from_env(EVERYTHING))


@pytest.mark.parametrize("plugins, expected", [("", None), ("none", ()), ("a,b  c", ("a", "b", "c"))])
def test_plugin_names(plugins: str, expected: tuple[str, ...] | None) -> None:
    assert Settings.from_env({"KIMIA_PLUGINS": plugins}).plugins == expected


@pytest.mark.parametrize("flag, expected", [("1", True), ("On", True), ("true", True), ("0", False), ("off", False), ("", False)])
def test_development_mode_flags(flag: str, expected: bool) -> None:
    assert Settings.from_env({"KIMIA_DEV_MODE": flag}).dev_mode is expected


@pytest.mark.parametrize("variable, value", [
    ("KIMIA_DATABASE_URL", "mysql://root@db/kimia"),
    ("KIMIA_DEV_MODE", "perhaps"),
    ("KIMIA_UTC_OFFSET_MIN", "210m"),
    ("KIMIA_UTC_OFFSET_MIN", "900"),
    ("KIMIA_MIGRATIONS", "auto"),
    ("KIMIA_WRITER_MAX_BATCH", "0"),
    ("KIMIA_WRITER_MAX_BATCH", "257"),
    ("KIMIA_WRITER_MAX_WAIT_S", "1"),
    ("KIMIA_WRITER_MAX_WAIT_S", "soon"),
    ("KIMIA_WRITER_MAX_QUEUE", "0"),
    ("KIMIA_NOTIFY", "sms:+98912"),
    ("KIMIA_NOTIFY", "file:"),
    ("KIMIA_SMS", "sms:+98912"),
    ("KIMIA_SMS", "ftp://gateway"),
    ("KIMIA_SMTP_URL", "mail.example.ir:25"),
    ("KIMIA_WEB_BIND", "127.0.0.1 8000"),
    ("KIMIA_WEB_WORKERS", "0"),
    ("KIMIA_WEB_THREADS", "2000"),
    ("KIMIA_WEB_TIMEOUT_S", "0"),
])
def test_a_bad_value_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(Rejected) as err:
        Settings.from_env({variable: value})
    assert err.value.code == "invalid_setting"
    assert err.value.path == variable and variable in err.value.message_en and variable in err.value.message_fa


def test_an_override_is_validated_too() -> None:
    with pytest.raises(Rejected) as err:
        Settings.from_env({}, writer_max_batch=1_000)
    assert err.value.code == "invalid_setting" and err.value.path == "KIMIA_WRITER_MAX_BATCH"


def _configuration_table() -> str:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    return text.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]


def test_every_variable_is_in_the_configuration_table_of_operations_md() -> None:
    table = _configuration_table()
    documented = set(re.findall(r"^\| `(KIMIA_[A-Z_]+)` \| environment \|", table, flags=re.M))
    kek = {"KIMIA_TERMINAL_KEK", "KIMIA_TERMINAL_KEK_FILE"}  # read by kimia.service.terminalkeys (a rotated KEK file without a restart)
    assert documented == set(ENVIRONMENT.values()) | kek


def test_nothing_else_in_kimia_reads_the_environment() -> None:
    """Only kimia/settings.py reads the environment, and kimia/service/terminalkeys.py the KEK's variables."""
    readers = {}
    for path in (ROOT / "kimia").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"os\.environ|getenv|envvar=", text)
        if found:
            readers[str(path.relative_to(ROOT))] = text
    assert set(readers) == {"kimia/settings.py", "kimia/service/terminalkeys.py"}
    read_by_keys = set(re.findall(r"os\.environ\.get\((\w+)", readers["kimia/service/terminalkeys.py"]))
    assert read_by_keys == {"KEK_ENV", "KEK_FILE_ENV", "DEV_MODE_ENV"}
