"""The one place that assembles kimia: settings in, a running service out.

Every entry builds its service here (the CLI, the terminal host, the simulator, the demo, the
tests, the benchmarks and, next, the web app), as Flask's ``create_app`` builds an app:

    service = assemble(Settings.from_env())

:func:`assemble` refuses to start before it touches anything: first the card-hash keys
(``card_key_missing``, ``card_key_weak``), then the schema under the migration policy
(``check``: ``not_initialized`` / ``schema_outdated``, nothing written; ``upgrade``: migrate).
Then it makes the parts (engine, caches, plugin manager, notifier) and the service, which starts
its writer with the settings' limits.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from kimia.errors import reject
from kimia.plugins import default_plugin_manager, make_plugin_manager
from kimia.plugins.manager import PluginNotFound, load_configured
from kimia.service.api import Kimia
from kimia.service.cardkeys import CardKeys
from kimia.service.context import Caches
from kimia.service.verify import Notifier, notifier_for
from kimia.settings import Settings
from kimia.store.engine import make_engine
from kimia.store.migrate import require_head, upgrade
from kimia.store.models import utc_now_s


def assemble(
    settings: Settings | None = None,
    *,
    clock: Callable[[], int] = utc_now_s,
    plugins: pluggy.PluginManager | None = None,
    notifier: Notifier | None = None,
) -> Kimia:
    """The service of ``settings`` (else ``Settings.from_env()``). ``clock``, ``plugins`` and
    ``notifier`` replace the settings' own parts (the demo's clock, a test's plugins)."""
    settings = settings or Settings.from_env()
    # The keys first: a process that would hash cards under a known key does not start at all.
    card_keys = card_keys_of(settings)
    pm = plugins if plugins is not None else plugin_manager(settings)
    apply_migration_policy(settings, pm)
    return Kimia(
        settings,
        engine=make_engine(settings.database_url),
        card_keys=card_keys,
        caches=Caches(),
        plugins=pm,
        notifier=notifier or notifier_for(settings.notify),
        clock=clock,
    )


def card_keys_of(settings: Settings) -> CardKeys:
    """The card-hash keys of ``settings``: ``card_key_missing`` / ``card_key_weak`` unless they are
    real keys or development mode allows the development key (kimia.service.cardkeys)."""
    return CardKeys.resolve(settings.card_key, settings.old_card_keys, dev_mode=settings.dev_mode)


def apply_migration_policy(settings: Settings, plugins: pluggy.PluginManager | None = None) -> None:
    """``upgrade``: bring the schema to the newest revision, the plugins' steps included;
    ``check``: refuse unless it is there."""
    if settings.migrations == "upgrade":
        upgrade(settings.database_url, plugins)
    else:
        require_head(settings.database_url, plugins)


def plugin_manager(settings: Settings) -> pluggy.PluginManager:
    """The built-in plugins and the ones the settings name (every installed one unless named):
    entry points of the ``kimia`` group or dotted module paths (kimia.plugins.manager.load_configured).
    The process-wide manager is shared when every installed plugin is loaded."""
    if settings.plugins is None:
        return default_plugin_manager()
    pm = make_plugin_manager(load_entry_points=False)
    try:
        load_configured(pm, settings.plugins)
    except PluginNotFound as exc:
        raise reject("invalid_setting", path="KIMIA_PLUGINS", name="KIMIA_PLUGINS", detail=str(exc)) from None
    return pm


__all__ = ["apply_migration_policy", "assemble", "card_keys_of", "plugin_manager"]
