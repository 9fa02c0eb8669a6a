"""Start-up and shut-down (``kimia_startup`` / ``kimia_shutdown``) in every kind of process, and the
plugins ``KIMIA_PLUGINS`` names by their dotted module path."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kimia.app import assemble, plugin_manager
from kimia.cli import main
from kimia.errors import KimiaError
from kimia.plugins import hookimpl, make_plugin_manager
from kimia.plugins.manager import PluginStartupFailed, origin, started, stopping
from kimia.plugins.types import Services
from kimia.settings import Settings
from kimia.web import create_app

from . import recording_plugin

TESTS = Path(__file__).resolve().parents[1]


class Recorder:
    def __init__(self, name: str, calls: list[tuple[str, str, str]], fail: bool = False, fail_shutdown: bool = False) -> None:
        self.name, self.calls, self.fail, self.fail_shutdown = name, calls, fail, fail_shutdown

    @hookimpl
    def kimia_startup(self, services: Services, process: str) -> None:
        if self.fail:
            raise RuntimeError("cannot reach its gateway")
        self.calls.append((self.name, "startup", process))

    @hookimpl
    def kimia_shutdown(self, process: str) -> None:
        self.calls.append((self.name, "shutdown", process))
        if self.fail_shutdown:
            raise RuntimeError("could not flush")


@pytest.fixture
def calls() -> Iterator[list[tuple[str, str, str]]]:
    recording_plugin.CALLS.clear()
    yield []
    recording_plugin.CALLS.clear()


def test_plugins_start_in_order_and_stop_in_reverse(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    pm = make_plugin_manager([Recorder("a", calls), Recorder("b", calls)], load_entry_points=False)
    with assemble(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade"), plugins=pm) as service:
        started(pm, service.plugin_services, "worker")
        stopping(pm, "worker")
    assert calls == [("a", "startup", "worker"), ("b", "startup", "worker"), ("b", "shutdown", "worker"), ("a", "shutdown", "worker")]
    with pytest.raises(ValueError, match="process"):
        started(pm, service.plugin_services, "daemon")


def test_a_plugin_that_cannot_start_stops_the_process_with_its_name(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    failing = Recorder("c", calls, fail=True)
    pm = make_plugin_manager([Recorder("a", calls), failing, Recorder("d", calls)], load_entry_points=False)
    with assemble(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade"), plugins=pm) as service:
        with pytest.raises(PluginStartupFailed) as caught:
            started(pm, service.plugin_services, "worker")
    name = pm.get_name(failing)
    assert caught.value.plugin == name and f"plugin {name} failed to start in the worker process" in str(caught.value)
    assert "cannot reach its gateway" in str(caught.value)
    # The one started before it is stopped again; the one after it never started.
    assert calls == [("a", "startup", "worker"), ("a", "shutdown", "worker")]


def test_a_failing_shutdown_is_logged_and_the_others_still_stop(db_url: str, calls: list[tuple[str, str, str]],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    bad = Recorder("b", calls, fail_shutdown=True)
    pm = make_plugin_manager([Recorder("a", calls), bad], load_entry_points=False)
    with caplog.at_level(logging.ERROR, logger="kimia.plugins"):
        stopping(pm, "web")
    assert calls == [("b", "shutdown", "web"), ("a", "shutdown", "web")]
    assert f"plugin {pm.get_name(bad)} failed to shut down in the web process" in caplog.text


def test_the_web_app_starts_its_plugins_and_stops_them_when_it_closes(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    pm = make_plugin_manager([Recorder("a", calls)], load_entry_points=False)
    app = create_app(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade"), plugins=pm)
    assert calls == [("a", "startup", "web")]
    app.extensions["kimia"].close()
    app.extensions["kimia"].close()  # once only
    assert calls == [("a", "startup", "web"), ("a", "shutdown", "web")]


def test_the_web_app_does_not_run_with_a_plugin_that_cannot_start(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    pm = make_plugin_manager([Recorder("a", calls), Recorder("c", calls, fail=True)], load_entry_points=False)
    with pytest.raises(PluginStartupFailed):
        create_app(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade"), plugins=pm)
    assert calls == [("a", "startup", "web"), ("a", "shutdown", "web")]


def cli(db_url: str, *args: str, plugins: str = "plugins.recording_plugin") -> Any:
    env = {"KIMIA_DATABASE_URL": db_url, "KIMIA_DEV_MODE": "1", "KIMIA_MIGRATIONS": "upgrade", "KIMIA_PLUGINS": plugins}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_cli_command_that_assembles_a_service_starts_and_stops_the_plugins(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    result = cli(db_url, "check")
    assert result.exit_code == 0, result.output
    assert recording_plugin.CALLS == [("startup", "cli"), ("shutdown", "cli")]


def test_a_cli_command_stops_when_a_plugin_cannot_start(db_url: str, calls: list[tuple[str, str, str]]) -> None:
    result = cli(db_url, "check", plugins="plugins.recording_plugin, plugins.failing_plugin")
    assert result.exit_code == 1
    assert "plugin_startup_failed: plugin plugins.failing_plugin failed to start in the cli process" in result.output
    assert "the gateway is unreachable" in result.output
    assert recording_plugin.CALLS == [("startup", "cli"), ("shutdown", "cli")]


def test_kimia_plugins_takes_dotted_module_paths(tmp_path: Path) -> None:
    settings = Settings.from_env({"KIMIA_PLUGINS": "plugins.recording_plugin"}, database_url=f"sqlite:///{tmp_path}/k.db")
    pm = plugin_manager(settings)
    assert pm.get_plugin("plugins.recording_plugin") is recording_plugin
    assert origin(pm, "plugins.recording_plugin") == ("configuration", "")
    assert origin(pm, "kimia.terminal.dialect") == ("built-in", "")
    for wrong in ("plugins.no_such_module", "no-such-plugin"):
        with pytest.raises(KimiaError) as caught:
            plugin_manager(Settings.from_env({"KIMIA_PLUGINS": wrong}, database_url=f"sqlite:///{tmp_path}/k.db"))
        assert caught.value.code == "invalid_setting" and caught.value.path == "KIMIA_PLUGINS" and wrong in caught.value.message_en


def test_a_configured_plugin_adds_its_command(tmp_path: Path) -> None:
    """In a process of its own: the commands are added when the command line is loaded."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KIMIA_")}, "PYTHONPATH": str(TESTS),
           "KIMIA_DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "KIMIA_DEV_MODE": "1", "KIMIA_MIGRATIONS": "upgrade",
           "KIMIA_PLUGINS": "plugins.recording_plugin"}
    kimia = str(Path(sys.executable).with_name("kimia"))
    done = subprocess.run([kimia, "recording-hello"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "hello True", done.stderr[-2000:]
    listed = subprocess.run([kimia, "plugins"], capture_output=True, text=True, timeout=60, env=env)
    assert "plugins.recording_plugin  (configuration)" in listed.stdout and "command kimia recording-hello" in listed.stdout
