"""The one assembly point (issue 14, item 3): ``kimia.app.assemble`` builds every service from its
settings; it refuses before it writes anything (no card key, a schema not at the newest revision
under the ``check`` policy); constructing the service never migrates; ``kimia init`` does."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import inspect

from kimia.app import assemble, card_keys_of
from kimia.cli import main
from kimia.errors import Rejected
from kimia.plugins import default_plugin_manager
from kimia.plugins.manager import BUILTIN_PLUGINS
from kimia.service import Admin, Kimia
from kimia.service.context import Caches
from kimia.service.verify import FileNotifier
from kimia.settings import Settings
from kimia.store.engine import make_engine
from kimia.store.migrate import alembic_config, current_revision, head_revision

ROOT = Path(__file__).resolve().parent.parent
#: A revision before the newest: the schema of an older kimia.
OLD_REVISION = "0007"


def tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def migrate_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def refusal(settings: Settings) -> Rejected:
    with pytest.raises(Rejected) as err:
        assemble(settings).close()
    return err.value


def test_no_card_key_outside_development_mode_refuses_to_start(tmp_path: Path) -> None:
    """The keys are checked first: nothing is created, not even the database's directory."""
    url = f"sqlite:///{tmp_path}/refused/kimia.db"
    error = refusal(Settings.from_env({}, database_url=url, migrations="upgrade"))
    assert error.code == "card_key_missing"
    assert not (tmp_path / "refused").exists()
    with assemble(Settings.from_env({"KIMIA_DEV_MODE": "1"}, database_url=url, migrations="upgrade")) as service:
        assert service.card_keys.development


def test_check_refuses_a_missing_database_and_creates_no_file(tmp_path: Path) -> None:
    error = refusal(Settings.from_env({}, database_url=f"sqlite:///{tmp_path}/none.db", dev_mode=True))
    assert error.code == "not_initialized" and "kimia init" in error.message_en and error.message_fa
    assert not (tmp_path / "none.db").exists()


def test_check_refuses_a_database_without_a_schema_and_writes_nothing(db_url: str) -> None:
    make_engine(db_url).dispose()  # the SQLite file exists, empty (a PostgreSQL database is empty already)
    error = refusal(Settings.from_env({}, database_url=db_url, dev_mode=True))
    assert error.code == "not_initialized"
    assert tables(db_url) == []


def test_check_refuses_an_outdated_schema_with_its_code_and_writes_nothing(db_url: str) -> None:
    migrate_to(db_url, OLD_REVISION)
    before = tables(db_url)
    error = refusal(Settings.from_env({}, database_url=db_url, dev_mode=True))
    assert error.code == "schema_outdated"
    assert error.params == {"current": OLD_REVISION, "head": head_revision()}
    assert "kimia init" in error.message_en
    assert current_revision(db_url) == OLD_REVISION and tables(db_url) == before


def test_kimia_init_brings_an_outdated_schema_to_the_newest_and_the_commands_start(db_url: str) -> None:
    migrate_to(db_url, OLD_REVISION)
    refused = CliRunner().invoke(main, ["--database", db_url, "check"])
    assert refused.exit_code == 1 and refused.stderr.startswith("schema_outdated: "), refused.output
    assert current_revision(db_url) == OLD_REVISION
    init = CliRunner().invoke(main, ["--database", db_url, "init"])
    assert init.exit_code == 0 and "(newest)" in init.stdout, init.output
    assert current_revision(db_url) == head_revision()
    checked = CliRunner().invoke(main, ["--database", db_url, "check"])
    assert checked.exit_code == 0, checked.output


def test_constructing_the_service_creates_no_tables(db_url: str) -> None:
    """Migrations are ``kimia init``'s (or the ``upgrade`` policy's), never the constructor's."""
    settings = Settings.from_env({}, database_url=db_url, dev_mode=True)
    service = Kimia(settings, engine=make_engine(db_url), card_keys=card_keys_of(settings), caches=Caches(),
                    plugins=default_plugin_manager(), notifier=FileNotifier("/dev/null"))
    service.close()
    assert tables(db_url) == []


def test_the_upgrade_policy_migrates_on_start(db_url: str) -> None:
    with assemble(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade")):
        assert current_revision(db_url) == head_revision()


def test_the_parts_come_from_the_settings(tmp_path: Path) -> None:
    sms = tmp_path / "sms.jsonl"
    settings = Settings.from_env({
        "KIMIA_DATABASE_URL": f"sqlite:///{tmp_path}/kimia.db", "KIMIA_DEV_MODE": "1", "KIMIA_MIGRATIONS": "upgrade",
        "KIMIA_WRITER_MAX_BATCH": "8", "KIMIA_WRITER_MAX_WAIT_S": "0", "KIMIA_WRITER_MAX_QUEUE": "5",
        "KIMIA_NOTIFY": f"file:{sms}", "KIMIA_PLUGINS": "none",
    })
    with assemble(settings) as service:
        assert service.settings is settings and service.url == settings.database_url
        assert (service.writer._max_batch, service.writer._max_wait_s, service.writer._max_queue) == (8, 0, 5)
        assert isinstance(service.notifier, FileNotifier) and service.notifier.path == sms
        assert service.plugins is not default_plugin_manager()
        assert sorted(name for name, _ in service.plugins.list_name_plugin()) == sorted(BUILTIN_PLUGINS)
    with assemble(Settings.from_env({}, database_url=settings.database_url, dev_mode=True)) as service:
        assert service.plugins is default_plugin_manager()  # every installed plugin: the process's own manager


def test_a_plugin_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    error = refusal(Settings.from_env({}, database_url=f"sqlite:///{tmp_path}/k.db", dev_mode=True, migrations="upgrade",
                                      plugins=("no-such-plugin",)))
    assert error.code == "invalid_setting" and error.path == "KIMIA_PLUGINS" and "no-such-plugin" in error.message_en


def test_new_clubs_take_the_settings_time_zone_and_cli_dates_follow_the_club(tmp_path: Path) -> None:
    """A club's dates are the club's own: ``--period-end 2025-01-01`` ends at that day's midnight
    in the club's time zone (UTC for one club, Tehran for the other)."""
    url = f"sqlite:///{tmp_path}/k.db"
    clubs = {}
    for offset_min in (0, 210):
        with assemble(Settings.from_env({}, database_url=url, dev_mode=True, migrations="upgrade", utc_offset_min=offset_min)) as service:
            admin = Admin(service)
            clubs[offset_min] = admin.create_club(admin.create_owner("مالک"), "باشگاه")
            admin.update_settings(clubs[offset_min], {"tiers": {"tiers": [{"name": "bronze", "rise_at": 0, "stay_at": 0}]}}, actor="test")
            with service.reading() as tx:
                assert tx.one("SELECT utc_offset_min FROM clubs WHERE id = ?", (clubs[offset_min],))[0] == offset_min
    utc_midnight = int(dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc).timestamp())
    for offset_min, club in clubs.items():
        result = CliRunner().invoke(main, ["--database", url, "close-period", "--club", str(club), "--period-end", "2025-01-01"])
        assert result.exit_code == 0, result.output
        zone = "UTC" if offset_min == 0 else "UTC+03:30"
        assert f"tier period closed at {utc_midnight - offset_min * 60} (2025-01-02 00:00 {zone}, 1403-10-13)" in result.stdout


def _constructions(path: Path) -> list[int]:
    """Lines of ``path`` that call ``Kimia(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) == "Kimia" or getattr(node.func, "attr", None) == "Kimia")]


def test_every_entry_builds_its_service_with_assemble() -> None:
    """Only kimia/app.py constructs the service (and the test above, which shows the constructor
    does not migrate): the CLI, the host, the simulator, the demo, the tests and the benchmarks
    all go through ``assemble``."""
    sites = {str(path.relative_to(ROOT)): lines for folder in ("kimia", "tests", "benches")
             for path in (ROOT / folder).rglob("*.py") if (lines := _constructions(path))}
    assert set(sites) == {"kimia/app.py", "tests/test_app.py"}, sites
