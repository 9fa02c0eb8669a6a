"""The kimia command line for operators.

    kimia init                                   create or upgrade the database (Alembic)
    kimia demo [--purchases N] [--seed S] [--reset]
    kimia close-period --club ID (--period-end TS | --now)
    kimia expire --club ID
    kimia settle --club ID --day YYYY-MM-DD [--jalali] [--out FILE]
    kimia check
    kimia backtest --club ID [--days 90]
    kimia draw-lottery --lottery ID --seed SEED
    kimia terminal serve [--port 8583] [--idle-timeout 60] [--frame-timeout 30]
    kimia terminal list                          terminal ids, merchant ids, test member keys
    kimia terminal set-key --terminal TID --merchant MID
    kimia terminal simulate --port 8583 [--terminals 8] [--seconds 10] [--setup]
    kimia card-keys                              which keys the stored card hashes were made with
    kimia rehash-cards                           hash club cards still stored in clear (from before 0005)
    kimia db grant-app-role --role NAME [--apply] the application role's PostgreSQL grants
    kimia web serve [--port 8000]               the JSON API for development (production: gunicorn)
    kimia api-key create --kind K [--club ID]    make an API key (printed once)
    kimia api-key list [--club ID] / revoke ID
    kimia panel-user create --login L --role R [--club ID] [--merchant ID]   a panel user
    kimia panel-user list [--club ID] / disable ID --reason R [--enable]

The settings are read once (kimia.settings; docs/operations.md, Configuration) and every command
builds its service with kimia.app.assemble. The database is ``--database URL``, else
``KIMIA_DATABASE_URL``, else the embedded SQLite file ``.kimia/kimia.db``. ``init`` creates or
upgrades the schema; every other command refuses a database ``init`` has not brought to the newest
revision (``not_initialized``, ``schema_outdated``) unless ``KIMIA_MIGRATIONS=upgrade``, and refuses
to start without ``KIMIA_CARD_HASH_KEY`` (``card_key_missing``) unless ``KIMIA_DEV_MODE=1``;
``demo`` allows the development key and migrates by itself. Days and times of a club are the
club's own (``clubs.utc_offset_min``).
Operations are recorded as done by ``cli:<OS user>``. A rejection is printed as ``code: English message / Persian message`` and the
command exits with status 1; nothing was changed by the operation that was refused.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
import sqlite3
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import kimia._core as core
from kimia.error_codes import ErrorCode
from kimia.errors import KimiaError, Phrase, Rejected, reject
from kimia.identifiers import IdentifierError, normalize_digits
from kimia.settings import DEFAULT_DATABASE_URL, Settings

if TYPE_CHECKING:
    from kimia.service.host import Host
    from kimia.world.roster import Roster


def fail(code: ErrorCode, **params: object) -> Rejected:
    """A rejection raised by the command line itself (printed like every other one), worded by the
    error catalogue."""
    return reject(code, None, **params)


class KimiaGroup(click.Group):
    """A click group that prints kimia's errors as ``code: English / Persian`` and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KimiaError, IdentifierError) as exc:
            where = f" (at {exc.path})" if isinstance(exc, KimiaError) and exc.path else ""
            click.echo(f"{exc.code}: {exc.message_en}{where} / {exc.message_fa}", err=True)
            ctx.exit(1)
        except _startup_failed() as exc:
            click.echo(f"plugin_startup_failed: {exc}", err=True)
            ctx.exit(1)
        except _db_errors() as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            error = reject("database_error", detail=f"{type(exc).__name__}: {first}")
            click.echo(f"{error.code}: {error.message_en} / {error.message_fa}", err=True)
            ctx.exit(1)


def _startup_failed() -> type[Exception]:
    from kimia.plugins.manager import PluginStartupFailed

    return PluginStartupFailed


def _db_errors() -> tuple[type[Exception], ...]:
    """Errors of the database drivers: printed as one ``database_error`` line, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    errors: list[type[Exception]] = [sqlite3.Error, SQLAlchemyError]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # PostgreSQL support is optional
        pass
    return tuple(errors)


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    assert settings is not None
    return settings


def _url(ctx: click.Context) -> str:
    return _settings(ctx).database_url


def _safe_url(url: str) -> str:
    """The URL with any password hidden, for printing."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


@contextmanager
def _service(settings: Settings, process: str = "cli", **parts: Any) -> Iterator[Any]:
    """The service of ``settings`` (kimia.app.assemble: refused before anything is written when the
    schema is not at the newest revision or there is no card key), its plugins started
    (``kimia_startup``, ``process``: ``cli``, or ``terminal`` for the host); on the way out they
    are told ``kimia_shutdown`` and the service closes."""
    from kimia.app import assemble
    from kimia.plugins.manager import started, stopping

    service = assemble(settings, **parts)
    try:
        started(service.plugins, service.plugin_services, process)
    except BaseException:
        service.close()
        raise
    try:
        yield service
    finally:
        try:
            stopping(service.plugins, process)
        finally:
            service.close()


def _root_club(service: Any, club_id: int) -> int:
    with service.reading() as tx:
        return int(service.caches.root_club(tx, club_id))


def _utc_offset_min(service: Any, club_id: int) -> int:
    """The club's time zone (minutes east of UTC); the settings' default for a club not found
    (the service refuses an unknown club itself)."""
    with service.reading() as tx:
        row = tx.one("SELECT utc_offset_min FROM clubs WHERE id = ?", (club_id,))
    return int(row[0]) if row else int(service.settings.utc_offset_min)


def _now() -> int:
    from kimia.store.models import utc_now_s

    return utc_now_s()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _err() -> Any:
    """Progress bars go to standard error, so standard output stays clean for CSV and tables."""
    return sys.stderr


# --- dates -------------------------------------------------------------------------------------


def parse_date(text: str, *, jalali: bool = False) -> dt.date:
    """``YYYY-MM-DD`` (or ``YYYY/MM/DD``, Persian digits allowed), Gregorian or Jalali."""
    parts = [normalize_digits(p) for p in re.split(r"[-/.\u2010-\u2015\u2212]", text.strip())]
    bad = fail("invalid_date", calendar=Phrase("Jalali", "شمسی") if jalali else Phrase("Gregorian", "میلادی"))
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise bad
    y, m, d = (int(p) for p in parts)
    if jalali:
        if not (1 <= m <= 12 and 1 <= d <= 31 and 1 <= y <= 3000):
            raise bad
        try:
            g = core.jalali_to_gregorian(y, m, d)  # refuses dates that do not exist
        except KimiaError:
            raise bad from None
        return dt.date(*g)
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise bad from None


def local_day_number(day: dt.date) -> int:
    """The local day number of a date (days since 1970-01-01 in the club's own time: the same
    number whatever the club's time zone, which only moves where the day starts)."""
    return (day - dt.date(1970, 1, 1)).days


def local_midnight(day: dt.date, utc_offset_min: int) -> int:
    """Unix seconds at the start of ``day`` in a time zone ``utc_offset_min`` east of UTC."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) - utc_offset_min * 60


def _jalali(day: dt.date) -> str:
    y, m, d = core.gregorian_to_jalali(day.year, day.month, day.day)
    return f"{y:04d}-{m:02d}-{d:02d}"


def _local_time(ts: int, utc_offset_min: int) -> str:
    """``2026-03-15 00:00 UTC+03:30, 1404-12-24`` for Unix seconds in a club's time zone."""
    zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
    when = dt.datetime.fromtimestamp(ts, zone)
    return f"{when:%Y-%m-%d %H:%M} {zone.tzname(None)}, {_jalali(when.date())}"


# --- tables ------------------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(0 if unicodedata.category(ch) in ("Mn", "Cf") else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; numbers right-aligned with thousands separators."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(headers))]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        out = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - _width(v))
            out.append(pad + v if numeric[i] else v + pad)
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


# --- commands ----------------------------------------------------------------------------------


@click.group(cls=KimiaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--database", "database", metavar="URL", default=None,
              help="Database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
                   f" [default: KIMIA_DATABASE_URL, else {DEFAULT_DATABASE_URL}]")
@click.version_option(core.__version__, prog_name="kimia")
@click.pass_context
def main(ctx: click.Context, database: str | None) -> None:
    """kimia — باشگاه مشتریان: a customer-club (loyalty) platform, run as a service."""
    from kimia.identifiers import install_log_masking

    install_log_masking()  # no card number reaches a log line of this process in clear
    # The settings are read here, once, and every command's service is assembled from them.
    ctx.obj = Settings.from_env(database_url=database) if database else Settings.from_env()


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database or upgrade it to the newest schema (safe to repeat)."""
    from kimia.store.engine import is_sqlite
    from kimia.store.migrate import current_revision, head_revision, upgrade

    from kimia.app import plugin_manager
    from kimia.store.plugin_schema import missing

    settings = _settings(ctx)
    url = settings.database_url
    plugins = plugin_manager(settings)
    upgrade(url, plugins)
    current, head = current_revision(url), head_revision()
    click.echo(f"database: {_safe_url(url)}")
    click.echo(f"revision: {current}" + (" (newest)" if current == head else f" (newest is {head})"))
    lacking = missing(url, plugins)
    click.echo("plugins' tables: " + ("up to date" if not lacking else f"{len(lacking)} steps missing"))
    if settings.card_key is None:
        note = "" if is_sqlite(url) else "; set it before the first enrolment"
        click.echo("warning: KIMIA_CARD_HASH_KEY is not set: kimia will refuse to serve this database without it"
                   f" (KIMIA_DEV_MODE=1 allows the development key, for demos and tests only){note}", err=True)


@main.command()
@click.option("--purchases", type=click.IntRange(0, 100_000), default=300, show_default=True, help="Purchases over the demo's 30 days.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: the same seed gives the same demo.")
@click.option("--reset", is_flag=True, help="Delete the SQLite database file first (refused for other databases).")
@click.option("--until", "until", metavar="YYYY-MM-DD", default=None,
              help="Last day of the demo's month (Tehran time) [default: yesterday].")
@click.option("--roster", "roster_file", metavar="PATH", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the members' cards for the terminal simulator (demo only; never the database)"
                   " [default: beside an SQLite database; none for others].")
@click.pass_context
def demo(ctx: click.Context, purchases: int, seed: int, reset: bool, until: str | None, roster_file: Path | None) -> None:
    """Build a realistic demo: clubs, merchants, members, rules and a month of purchases."""
    from kimia.demo_club import DemoClock, build_demo, default_last_day, demo_steps, render_summary, tehran_midnight
    from kimia.service.admin import Admin
    from kimia.store.engine import is_sqlite, sqlite_path
    from kimia.world import Roster, database_key, roster_path_for

    url = _url(ctx)
    if reset:
        if not is_sqlite(url):
            raise fail("reset_not_supported")
        path = sqlite_path(url)
        if path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            click.echo(f"deleted {path}", err=True)
    last_day = parse_date(until) if until else default_last_day(_now())
    end_at = tehran_midnight(last_day + dt.timedelta(days=1))
    # A demo may hash its made-up cards with the development key (a real key wins when set), and
    # makes or upgrades its own schema.
    roster = Roster(database=database_key(url))
    with _service(replace(_settings(ctx), dev_mode=True, migrations="upgrade"), clock=DemoClock(end_at)) as service:
        bar: Any
        with click.progressbar(length=demo_steps(purchases), label="building the demo · ساخت دمو", file=_err(),
                               item_show_func=lambda item: str(item) if item else None) as bar:
            summary = build_demo(service, Admin(service), purchases=purchases, seed=seed,
                                 progress=lambda steps, label: bar.update(steps, label), roster=roster)
    # The members' cards in clear, for the terminal simulator only: a demo file, never the database.
    roster_path = roster_file or roster_path_for(url)
    if roster_path is not None:
        click.echo(f"demo members' cards (for the terminal simulator; demo only): {roster.save(roster_path)}", err=True)
    click.echo(render_summary(summary))
    _seed_demo_extras(ctx, roster)
    _print_demo_logins(ctx, roster)
    click.echo("پایانه‌ها · for a POS vendor: `kimia terminal list` prints the terminal ids (41), merchant ids (42) and test member"
               " keys (MK); `kimia terminal set-key` gives a terminal its MAC key; docs/terminal-protocol.md has the rest")
    if not summary.check_ok:
        ctx.exit(1)


def _seed_demo_extras(ctx: click.Context, roster: Roster) -> None:
    """The extras at the demo's café (kimia.world.extras_demo), on today's clock, and a line saying so."""
    from kimia.world.extras_demo import seed_extras
    from kimia.world.logins import portal_member

    with _service(replace(_settings(ctx), dev_mode=True)) as service:
        member = portal_member(service, {h.member_id: h.mobiles for h in roster.members.values()})
        seeded = seed_extras(service, member[0] if member else None)
    if seeded is not None:
        click.echo(f"extras · افزونه‌ها (merchant {seeded.merchant_id}): {seeded.staff} staff (codes 1001–1003), "
                   f"{seeded.cash_entries} cash-book entries today, {seeded.slots} bookable slots"
                   + (", one booked by the portal's demo member" if seeded.booking_code else ""))


def _print_demo_logins(ctx: click.Context, roster: Roster | None = None) -> None:
    """Make the demo's panel users and print their logins (demo only: the passwords are known)."""
    with _service(replace(_settings(ctx), dev_mode=True)) as service:
        click.echo(demo_logins_text(service, roster=roster, notify=_settings(ctx).notify))


def demo_logins_text(service: Host, *, roster: Roster | None = None, base_url: str = "", notify: str = "") -> str:
    """The demo's panel users (made again if missing: an existing one keeps its password) and, with
    the demo's roster, a member who signs in to the portal with their mobile and a one-time code
    (sent where ``notify`` says, the ``KIMIA_NOTIFY`` setting). ``base_url`` is the web
    application's address (``./scripts/run.sh`` prints this with its own)."""
    from kimia.world.logins import make_demo_logins, portal_member

    logins = make_demo_logins(service)
    lines = [f"panel logins · ورود به پنل (demo only · فقط دمو): {base_url}/panel/login",
             table(["login", "role", "password", "where"], [[x.login, x.role, x.password, x.where] for x in logins])]
    member = portal_member(service, {h.member_id: h.mobiles for h in roster.members.values()}) if roster is not None else None
    if member is not None and roster is not None:
        member_id, mobile = member
        club_id = roster.members[member_id].club_id
        where = (f"the last line of {notify[5:]}" if notify.startswith("file:")
                 else "the web application's standard error (KIMIA_NOTIFY=console)")
        lines.append(f"member portal · درگاه اعضا: {base_url}/portal/login?club={club_id} · mobile {mobile} (member {member_id});"
                     f" the one-time code goes to {where}")
    return "\n".join(lines)


@main.command("close-period")
@click.option("--club", "club_id", type=int, required=True, help="Club id.")
@click.option("--period-end", "period_end", metavar="TS", default=None,
              help="End of the period: Unix seconds, or YYYY-MM-DD meaning the end of that day in the club's time zone.")
@click.option("--now", "use_now", is_flag=True, help="The period ends now.")
@click.option("--force", is_flag=True, help="Close even if the last period closed less than a day earlier.")
@click.pass_context
def close_period(ctx: click.Context, club_id: int, period_end: str | None, use_now: bool, force: bool) -> None:
    """Close a tier period: move members between tiers, apply grace, deduct points."""
    if (period_end is None) == (not use_now):
        raise click.UsageError("give exactly one of --period-end TS and --now")
    with _service(_settings(ctx)) as service:
        root = _root_club(service, club_id)
        offset_min = _utc_offset_min(service, root)
        end = _period_end(period_end, offset_min)
        end = _period_end_allowed(service, root, end, offset_min, force=force)
        bar: Any
        with click.progressbar(length=1, label="closing the period · بستن دوره", file=_err(), show_pos=True) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            counts = service.close_period(root, end, actor=_actor(), progress=progress)
    click.echo(f"club {root}: tier period closed at {end} ({_local_time(end, offset_min)})")
    labels = {"up": "rose · ارتقا", "down": "fell · تنزل", "stay": "stayed · ماند", "grace": "grace · تنفس",
              "frozen": "frozen · فریز", "manual": "manual · دستی"}
    click.echo(table(["reason", "members"], [[labels.get(k, k), v] for k, v in sorted(counts.items())] + [["total", sum(counts.values())]]))


def _period_end(period_end: str | None, utc_offset_min: int) -> int:
    """``--period-end`` as Unix seconds (a date: the end of that day in the club's time zone), or now."""
    now = _now()
    if period_end is None:
        return now
    # Seconds are digits alone (Persian digits too); a date has separators, which normalize_digits
    # would drop (it read 2025-01-01 as the second 20250101).
    text = period_end.strip()
    end = int(normalize_digits(text)) if re.fullmatch(r"\d+", text) else local_midnight(parse_date(text) + dt.timedelta(days=1), utc_offset_min)
    if end > now + 60:
        raise fail("period_end_in_future")
    return end


def _period_end_allowed(service: Any, root: int, end: int, utc_offset_min: int, *, force: bool) -> int:
    """The period end to close at: an unfinished close's own, else ``end`` unless it repeats or
    crowds the last close."""
    last, unfinished = service.period_closes(root)

    def when(ts: int) -> str:
        return _local_time(ts, utc_offset_min)

    if unfinished is not None:
        # A close that stopped half-way (a crash, a killed job) is finished first, with its own
        # period end: its members closed so far are not closed again, the others are.
        click.echo(f"club {root}: resuming the unfinished close of the period ending at {unfinished} ({when(unfinished)})"
                   f" · ادامه بستن نیمه‌کاره دوره", err=True)
        return int(unfinished)
    # Closing a period is not idempotent: a second run moves members again, on points the first
    # run set to zero. So a retried job (same period end) is refused, and so is a second close
    # within a day of the last one unless the operator insists.
    if last is not None and end <= last:
        raise fail("period_already_closed", period_end=f"{last} ({when(last)})")
    if last is not None and end - last < 86_400 and not force:
        raise fail("period_too_short", club=root, last=when(last))
    return end


@main.command()
@click.option("--club", "club_id", type=int, required=True, help="Club id.")
@click.pass_context
def expire(ctx: click.Context, club_id: int) -> None:
    """Retire every expired lot (points, credit) of a club; safe to re-run."""
    with _service(_settings(ctx)) as service:
        root = _root_club(service, club_id)
        swept = service.expire_sweep(club_id, actor=_actor())
    click.echo(f"club {root}: expired lots retired for {swept} member(s) · انقضای اعتبار {swept} عضو اعمال شد")


@main.command()
@click.option("--club", "club_id", type=int, required=True, help="Club id.")
@click.option("--day", "day", metavar="YYYY-MM-DD", required=True, help="Day to settle, in the club's own time zone.")
@click.option("--jalali", is_flag=True, help="--day is a Jalali (Solar Hijri) date, e.g. 1404-08-15.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the CSV to FILE instead of standard output.")
@click.pass_context
def settle(ctx: click.Context, club_id: int, day: str, jalali: bool, out: Path | None) -> None:
    """Print the settlement file (تسهیم) of one day: a line per beneficiary and a total."""
    date = parse_date(day, jalali=jalali)
    number = local_day_number(date)
    with _service(_settings(ctx)) as service:
        text = service.settlement(club_id, number)
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8", newline="")
    lines = text.count("\n") - 2
    total = text.rstrip("\n").rsplit("\n", 1)[-1].split(",")[6]
    click.echo(f"{out}: {lines} beneficiary line(s), total {int(total):,} rial for {date} ({_jalali(date)})", err=True)


@main.command("set-pin")
@click.option("--club", "club_id", type=int, required=True, help="Club id.")
@click.option("--member", "member", required=True, metavar="REF",
              help="The member: an account number, a mobile (+98...) or a national code; or a member id with --by-id.")
@click.option("--by-id", is_flag=True, help="--member is the member's id (as the panel shows it).")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.pass_context
def set_pin(ctx: click.Context, club_id: int, member: str, by_id: bool, reason: str) -> None:
    """Set a member's club PIN (cardholder verification at terminals, 48 PN). The PIN is read from
    standard input (never from the command line, which other users can see), kept as a slow salted
    hash, and clears a lockout."""
    from kimia.service.api import MemberRef

    pin = sys.stdin.readline().strip()
    if by_id:
        ref = MemberRef("id", member)
    elif member.startswith(("+", "09")):
        ref = MemberRef("mobile", member)
    elif len(member) == 10:
        ref = MemberRef("national_code", member)
    else:
        ref = MemberRef("account", member)
    with _service(_settings(ctx)) as service:
        service.set_pin(club_id, ref, pin, actor=_actor(), reason=reason)
    click.echo("PIN set · رمز عضو ثبت شد")


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Recompute every balance from the journal and verify every invariant (exit 1 on failure)."""
    with _service(_settings(ctx)) as service:
        report = service.check()
    click.echo(report.summary())
    if not report.ok:
        ctx.exit(1)


@main.command()
@click.option("--club", "club_id", type=int, required=True, help="Club id.")
@click.option("--days", type=click.IntRange(1, 3_660), default=90, show_default=True, help="How far back to take purchases.")
@click.pass_context
def backtest(ctx: click.Context, club_id: int, days: int) -> None:
    """Run the club's rule set in effect over its past purchases and total what it would cost."""
    from kimia.service import rulesets

    with _service(_settings(ctx)) as service:
        source, book = rulesets.backtest_plan(service, club_id, days=days)
        with click.progressbar(length=source.total, label="loading purchases", file=_err()) as bar:
            run = rulesets.run_backtest(service, source, book, days, progress=bar.update)
    root, result = run.club_id, run.result
    names, rule_names = run.merchant_names, run.rule_names
    click.echo(f"backtest of club {root}, rule set version {run.version} ({run.rule_count} rules), over the last {days} days")
    click.echo("each purchase is replayed with its merchant, merchant group, amount and time, the member's current tier and"
               " purchase count; rules on member groups, history, baskets, channels or sub-clubs do not fire here")
    click.echo("")
    click.echo(table(["total · جمع", "value"], [
        ["purchases · خرید", int(result["purchases"])],
        ["with a reward · با پاداش", int(result["with_reward"])],
        ["refused by the core · رد شده", int(result["rejected"])],
        ["amount (rial) · مبلغ", int(result["amount_rial"])],
        ["discount (rial) · تخفیف", int(result["discount_rial"])],
        ["payable (rial) · قابل پرداخت", int(result["payable_rial"])],
        ["points issued · امتیاز", int(result["points_issued"])],
        ["credit issued (rial) · اعتبار", int(result["credit_issued_rial"])],
        ["lottery entries · شانس قرعه‌کشی", int(result["lottery_entries"])],
        ["vouchers issued · ووچر", int(result["vouchers_issued"])],
    ]))
    click.echo("")
    funders = sorted(set(result["cost_by_funder"]) | set(result["points_by_funder"]))
    click.echo(table(["funder · تأمین‌کننده", "cost (rial)", "points"],
                     [[f, int(result["cost_by_funder"].get(f, 0)), int(result["points_by_funder"].get(f, 0))] for f in funders]))
    click.echo("")
    per_merchant = sorted(result["per_merchant"].items(), key=lambda kv: int(kv[0]))
    click.echo(table(["merchant", "name · نام", "purchases", "amount (rial)", "discount (rial)", "points"],
                     [[int(m), names.get(int(m), ""), int(t["purchases"]), int(t["amount_rial"]), int(t["discount_rial"]),
                       int(t["points"])] for m, t in per_merchant]))
    click.echo("")
    per_rule = sorted(result["per_rule"].items(), key=lambda kv: (-int(kv[1]["uses"]), kv[0]))
    click.echo(table(["rule", "name", "uses", "discount (rial)", "points", "credit (rial)"],
                     [[r, rule_names.get(r, ""), int(t["uses"]), int(t["discount_rial"]), int(t["points"]), int(t["credit_rial"])]
                      for r, t in per_rule]))


@main.command("draw-lottery")
@click.option("--lottery", "lottery_id", type=int, required=True, help="Lottery id.")
@click.option("--seed", "seed", required=True, help="The secret seed whose SHA-256 was committed when the lottery opened.")
@click.option("--club", "club_id", type=int, default=None, help="The club drawing (default: the lottery's own club).")
@click.pass_context
def draw_lottery(ctx: click.Context, lottery_id: int, seed: str, club_id: int | None) -> None:
    """Draw a lottery's winners by revealing its committed seed (reproducible and auditable)."""
    with _service(_settings(ctx)) as service:
        if club_id is None:
            # The operator at the console acts for the whole platform: the lottery's own club.
            with service.reading() as tx:
                row = tx.one("SELECT club_id FROM lotteries WHERE id = ?", (lottery_id,))
            club_id = int(row[0]) if row else 0
        winners = service.draw_lottery(club_id, lottery_id, seed, actor=_actor())
        with service.reading() as tx:
            names = {int(w["member_id"]): str(tx.one("SELECT name_fa FROM members WHERE id = ?", (w["member_id"],))[0]) for w in winners}
    click.echo(f"lottery {lottery_id} drawn · قرعه‌کشی انجام شد")
    click.echo(table(["rank", "member", "name · نام", "prize · جایزه"],
                     [[int(w["rank"]), int(w["member_id"]), names[int(w["member_id"])], str(w["prize"])] for w in winners]))


@main.command("card-keys")
@click.pass_context
def card_keys(ctx: click.Context) -> None:
    """Count stored card hashes per key: drop an older key only when no card is left under it."""
    from kimia.service.cardkeys import key_report

    with _service(_settings(ctx)) as service:
        with service.reading() as tx:
            rows = key_report(tx, service.card_keys)
        keys = service.card_keys
    click.echo(f"current key: {keys.current_id}" + (" (the development key)" if keys.development else ""))
    for older in keys.ids()[1:]:
        click.echo(f"older key:   {older}")
    click.echo(table(["key id", "status", "kind", "identifiers"], [list(r) for r in rows]))
    stale = sum(r[3] for r in rows if r[1] in ("unknown", "clear"))
    if any(r[1] == "unknown" for r in rows):
        click.echo("warning: cards under an unknown key cannot be found: add that key to KIMIA_CARD_HASH_OLD_KEYS", err=True)
    if stale and any(r[1] == "clear" for r in rows):
        click.echo("club cards stored in clear: run `kimia rehash-cards`", err=True)


@main.command("rehash-cards")
@click.pass_context
def rehash_cards(ctx: click.Context) -> None:
    """Hash club cards still stored in clear under the current key (bank cards under an older key
    move to the current key when next used: only their holder's card can be hashed again)."""
    from functools import partial

    from kimia.service import audit
    from kimia.service.cardkeys import hash_clear_club_cards

    def work(tx: Any, service: Any) -> int:
        count = hash_clear_club_cards(tx, service.card_keys)
        if count:
            audit.append(tx, club_id=None, actor=_actor(), action="rehash_cards", reason="club cards stored in clear",
                         payload={"club_cards": count, "key_id": service.card_keys.current_id}, at=_now())
        return count

    with _service(_settings(ctx)) as service:
        count = service.write(partial(work, service=service))
    click.echo(f"{count} club card(s) hashed under key {service.card_keys.current_id} · {count} کارت باشگاه هش شد")


@main.group()
def db() -> None:
    """The database's PostgreSQL roles (docs/operations.md, Database roles)."""


@db.command("grant-app-role")
@click.option("--role", required=True, metavar="NAME", help="The application's login role (it must not own the tables).")
@click.option("--apply", "apply_", is_flag=True, help="Run the statements (connected as the owner) instead of printing them.")
@click.pass_context
def db_grant_app_role(ctx: click.Context, role: str, apply_: bool) -> None:
    """Print (or, with --apply, run) the GRANT statements of the application role: read and write
    where kimia writes, INSERT and SELECT only on journal and audit_log (PostgreSQL only)."""
    from kimia.store.engine import is_sqlite, make_engine
    from kimia.store.migrate import require_head
    from kimia.store.roles import RoleError, check_role_name, grant_statements, inspect, refuse_unsafe, role_exists, verify

    url = _url(ctx)
    if is_sqlite(url):
        raise fail("not_postgresql")
    try:
        check_role_name(role)
        require_head(url)
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                database = inspect(conn)
                exists = role_exists(conn, role)
                refuse_unsafe(conn, role, database)
                statements = grant_statements(role, database)
                if not apply_:
                    for statement in statements:
                        click.echo(statement + ";")
                    if not exists:
                        click.echo(f"warning: role {role} does not exist yet: CREATE ROLE {role} LOGIN PASSWORD '...'"
                                   " before running these", err=True)
                    return
                if not exists:
                    raise RoleError("role_missing", role=role)
                for statement in statements:
                    conn.exec_driver_sql(statement)
                problems = verify(conn, role, database)
                if problems:
                    raise RoleError("grants_incomplete", detail="; ".join(problems))
        finally:
            engine.dispose()
    except RoleError as exc:
        raise Rejected(exc.code, exc.message_en, exc.message_fa, None, exc.params) from None
    click.echo(f"{role}: {len(database.tables)} table(s) in schema {database.schema} (owner {database.owner});"
               " INSERT and SELECT only on journal and audit_log")


@main.group()
def terminal() -> None:
    """The ISO 8583 host for POS terminals and PC-POS cash registers."""


@terminal.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8583, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--dialect", "dialect_path", default=None, metavar="NAME|JSON",
              help="A registered dialect's name (`kimia plugins` lists them) or a PSP's JSON layout file"
                   " (docs/terminal-protocol.md); default kimia-v1.")
@click.option("--deadline-ms", default=20_000, show_default=True, type=int, help="Answer 91 and post nothing after this long.")
@click.option("--idle-timeout", "idle_timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds: close a connection that sends nothing for this long.")
@click.option("--frame-timeout", "frame_timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds: a frame whose first byte arrived must be complete within this long, else the connection is closed.")
@click.option("--allow-unkeyed", is_flag=True,
              help="Serve terminals without a MAC key, and dialects without MAC fields (demos and tests only; docs/operations.md).")
@click.option("--max-connections", default=1024, show_default=True, type=click.IntRange(min=1),
              help="Connections open at once; more are accepted and closed at once.")
@click.option("--max-connections-per-address", default=64, show_default=True, type=click.IntRange(min=1),
              help="Connections open at once from one remote address.")
@click.option("--write-timeout", "write_timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds: close a connection that does not take its answer within this long.")
@click.option("--max-pending", default=256, show_default=True, type=click.IntRange(min=1),
              help="Requests waiting for a worker thread; more are answered 91 (overloaded).")
@click.option("--freshness", "freshness", default=600.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds: refuse (63) a request whose field 7 is further than this from the host's clock (replay protection).")
@click.pass_context
def terminal_serve(ctx: click.Context, host: str, port: int, dialect_path: str | None, deadline_ms: int,
                   idle_timeout: float, frame_timeout: float, allow_unkeyed: bool, max_connections: int,
                   max_connections_per_address: int, write_timeout: float, max_pending: int, freshness: float) -> None:
    """Serve terminals until interrupted (Ctrl-C). Every terminal needs a MAC key (set-key) unless
    --allow-unkeyed is given."""
    import asyncio
    import logging

    from kimia.app import plugin_manager
    from kimia.terminal.dialect import DialectError, resolve_dialect
    from kimia.terminal.server import TerminalServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        # The dialects the plugins register (kimia's own among them), or a JSON layout file.
        dialect = resolve_dialect(dialect_path, plugin_manager(_settings(ctx)))
    except DialectError as exc:
        raise click.BadParameter(str(exc), param_hint="--dialect") from None
    if not allow_unkeyed and not dialect.mac_fields:
        raise click.UsageError(f"dialect {dialect.name} has no MAC fields (64/128): a production host refuses it"
                               " (--allow-unkeyed for a demo)")
    if allow_unkeyed:
        click.echo("warning: --allow-unkeyed: terminals without a MAC key are served; for demos and tests only", err=True)

    async def run(service: Any) -> None:
        server = TerminalServer(service, host=host, port=port, dialect=dialect, deadline_s=deadline_ms / 1000,
                                idle_timeout_s=idle_timeout, frame_timeout_s=frame_timeout, allow_unkeyed=allow_unkeyed,
                                max_connections=max_connections, max_connections_per_address=max_connections_per_address,
                                write_timeout_s=write_timeout, max_pending=max_pending, freshness_s=freshness)
        await server.start()
        click.echo(f"kimia terminal host on {host}:{server.port} ({dialect.name}) · پایانه‌ها به این نشانی وصل شوند; Ctrl-C to stop")
        try:
            await server.serve_forever()
        finally:
            await server.close()

    with _service(_settings(ctx), "terminal") as service:
        try:
            asyncio.run(run(service))
        except KeyboardInterrupt:
            click.echo("stopped · متوقف شد")


@terminal.command("list")
@click.option("--members", "per_club", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="Test members to show per club.")
@click.pass_context
def terminal_list(ctx: click.Context, per_club: int) -> None:
    """The terminal ids (41), merchant ids (42) and test member keys (48 MK) a terminal vendor needs."""
    from kimia.terminal.registry import list_members, list_terminals

    with _service(_settings(ctx)) as service:
        terminals = list_terminals(service)
        members = list_members(service, per_club=per_club) if per_club else []
    click.echo(table(["terminal id (41)", "merchant id (42)", "kind", "merchant", "name · نام", "club", "MAC key (version, KCV)"],
                     [[t.terminal_id, t.merchant_code, t.kind, t.merchant_id, t.merchant_name, t.club_id,
                       f"v{t.mac_key_version} {t.mac_key_kcv}" if t.has_mac_key else "none"] for t in terminals]))
    if members:
        click.echo("")
        click.echo(table(["club", "member", "MK (48)", "MK by mobile"],
                         [[m.club_id, m.member_id, m.key, m.mobile_key or ""] for m in members]))
    if not terminals:
        click.echo("no terminals yet: `kimia demo` builds a demo club with terminals", err=True)


@terminal.command("set-key")
@click.option("--terminal", "terminal_id", required=True, metavar="TID", help="Terminal id (field 41).")
@click.option("--merchant", "merchant_code", required=True, metavar="MID", help="Merchant id (field 42).")
@click.option("--aes256", is_flag=True, help="Generate a 32-byte (AES-256) key instead of 16 bytes (AES-128).")
@click.option("--key-stdin", is_flag=True, help="Read the key (32 or 64 hex digits) from standard input instead of generating one.")
@click.option("--remove", is_flag=True, help="Take the terminal's key away: it then sends no MAC.")
@click.pass_context
def terminal_set_key(ctx: click.Context, terminal_id: str, merchant_code: str, aes256: bool, key_stdin: bool, remove: bool) -> None:
    """Give a terminal its MAC key (AES-CMAC, field 64/128), or a new one (the key change of an
    operator; a terminal changes its own key with an 0800, 70=161). The key is stored encrypted
    under the KEK (KIMIA_TERMINAL_KEK or KIMIA_TERMINAL_KEK_FILE) with its version and check value.
    A generated key is printed once, here, for the terminal's key loading; kimia never prints or
    logs it again."""
    from kimia.terminal.keys import kcv
    from kimia.terminal.registry import new_mac_key, set_terminal_key

    if remove and key_stdin:
        raise click.UsageError("give at most one of --remove and --key-stdin")
    key: bytes | None = None
    if key_stdin:
        text = sys.stdin.readline().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise fail("invalid_request", detail=Phrase("the key is not hexadecimal", "کلید باید هگزادسیمال باشد")) from None
    elif not remove:
        key = new_mac_key(32 if aes256 else 16)
    with _service(_settings(ctx)) as service:
        set_terminal_key(service, terminal_id, merchant_code, key, actor=_actor())
    if key is None:
        click.echo(f"terminal {terminal_id} / {merchant_code}: MAC key removed · کلید حذف شد")
        return
    check = kcv(key)
    if key_stdin:
        click.echo(f"terminal {terminal_id} / {merchant_code}: MAC key set ({len(key) * 8}-bit AES, KCV {check}) · کلید ثبت شد")
    else:
        click.echo(f"terminal {terminal_id} / {merchant_code}: MAC key set (KCV {check}) · کلید ثبت شد")
        click.echo(f"key (AES-{len(key) * 8}, hex; shown only this once): {key.hex().upper()}")


@terminal.command("rotate-kek")
@click.option("--new-kek-file", "new_kek_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A file holding the new KEK (32, 48 or 64 hex digits); the current KEK comes from the settings.")
@click.pass_context
def terminal_rotate_kek(ctx: click.Context, new_kek_file: str) -> None:
    """Re-encrypt every terminal MAC key under a new key-encryption key, in one transaction; then
    point KIMIA_TERMINAL_KEK(_FILE) at the new KEK and restart the host. Safe to run again."""
    from kimia.terminal.keys import Kek, load_kek
    from kimia.terminal.registry import rotate_kek

    old, new = load_kek(), Kek.from_file(new_kek_file)
    with _service(_settings(ctx)) as service:
        count = rotate_kek(service, old, new, actor=_actor())
    click.echo(f"{count} terminal key(s) re-encrypted from KEK {old.kid} to KEK {new.kid} · کلیدها با کلید جدید رمز شدند")
    click.echo("now set KIMIA_TERMINAL_KEK_FILE (or KIMIA_TERMINAL_KEK) to the new KEK and restart the terminal host")


@terminal.command("simulate", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                                "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def terminal_simulate(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Drive a terminal host with virtual POS terminals (options: `kimia terminal simulate --help`).
    The database is kimia's own (--database) unless the options name one or give --terminal."""
    from kimia.terminal.simulator import main as simulator_main

    argv = list(args)
    if "--database" not in argv and "--terminal" not in argv and not any(a in ("-h", "--help") for a in argv):
        argv += ["--database", _url(ctx)]
    ctx.exit(simulator_main(argv, prog="kimia terminal simulate"))


@main.group()
def web() -> None:
    """The web application: the JSON API (/api/v1)."""


@web.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.pass_context
def web_serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web application for development (Werkzeug, threaded). Production runs it under
    gunicorn: docs/operations.md."""
    from werkzeug.serving import run_simple

    from kimia.web import create_app

    app = create_app(_settings(ctx))
    click.echo(f"kimia web on http://{host}:{port}/ · API: http://{host}:{port}/api/v1/docs; Ctrl-C to stop")
    try:
        run_simple(host, port, app, threaded=True)
    finally:
        app.extensions["kimia"].close()


@web.command("gunicorn")
@click.option("--bind", default=None, help="Address to listen on (default KIMIA_WEB_BIND or 127.0.0.1:8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default KIMIA_WEB_WORKERS or 1).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None, help="Threads per worker (default KIMIA_WEB_THREADS or 32).")
@click.pass_context
def web_gunicorn(ctx: click.Context, bind: str | None, workers: int | None, threads: int | None) -> None:
    """Serve the web application in production: gunicorn with kimia.web.gunicorn_conf (one worker
    process, many threads by default: docs/operations.md). Replaces this process with gunicorn."""
    import os

    # gunicorn's own options win over the configuration file's (kimia.web.gunicorn_conf, which
    # reads the settings); --env hands the database to the workers (and the file) as a setting.
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:kimia.web.gunicorn_conf", "--env", f"KIMIA_DATABASE_URL={_url(ctx)}"]
    for option, value in (("--bind", bind), ("--workers", workers), ("--threads", threads)):
        if value is not None:
            argv += [option, str(value)]
    os.execv(sys.executable, [*argv, "kimia.web.wsgi:app"])


@main.group("api-key")
def api_key() -> None:
    """Keys of the JSON API (docs/api.md, Keys): shown once, stored hashed."""


@api_key.command("create")
@click.option("--kind", type=click.Choice(["platform", "management", "integration"]), required=True)
@click.option("--club", "club_id", type=int, default=None, help="The club (every kind but platform).")
@click.option("--merchant", "merchant_id", type=int, default=None, help="Bind an integration key to one merchant.")
@click.option("--label", default="", help="What the key is for.")
@click.option("--rate-per-min", type=click.IntRange(1, 1_000_000), default=None, help="Requests a minute (default: by kind).")
@click.pass_context
def api_key_create(ctx: click.Context, kind: str, club_id: int | None, merchant_id: int | None, label: str, rate_per_min: int | None) -> None:
    """Make a key and print it once (only its hash is kept)."""
    from kimia.service import apikeys

    with _service(_settings(ctx)) as service:
        row, token = apikeys.create(service, kind=kind, club_id=club_id, actor=_actor(), label=label, merchant_id=merchant_id,
                                    rate_per_min=rate_per_min)
    click.echo(token)
    click.echo(f"{row.kind} key {row.public_id} made; it is shown this once · این کلید فقط همین یک بار نمایش داده می‌شود", err=True)


@api_key.command("list")
@click.option("--club", "club_id", type=int, default=None, help="The club's keys (default: the platform's).")
@click.pass_context
def api_key_list(ctx: click.Context, club_id: int | None) -> None:
    """The keys of a club (never their secrets)."""
    from kimia.service import apikeys

    with _service(_settings(ctx)) as service:
        rows = apikeys.list_keys(service, club_id, limit=1000)
    click.echo(table(["public id", "kind", "club", "merchant", "label", "revoked"],
                     [[r.public_id, r.kind, r.club_id or "-", r.merchant_id or "-", r.label, "yes" if r.revoked_at else "no"] for r in rows]))


@api_key.command("revoke")
@click.argument("public_id")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.pass_context
def api_key_revoke(ctx: click.Context, public_id: str, reason: str) -> None:
    """Revoke a key at once (a running server stops accepting it within 5 seconds)."""
    from kimia.service import apikeys

    with _service(_settings(ctx)) as service:
        apikeys.revoke(service, public_id, club_id=None, actor=_actor(), reason=reason)
    click.echo(f"revoked {public_id} · باطل شد")


@main.group("panel-user")
def panel_user() -> None:
    """People who sign in to the panel (docs/panel.md, Users and roles): passwords kept as argon2id."""


@panel_user.command("create")
@click.option("--login", required=True, help="The user name they sign in with.")
@click.option("--role", type=click.Choice(["platform", "admin", "marketer", "support", "read_only", "merchant"]), required=True)
@click.option("--club", "club_id", type=int, default=None, help="Their club (every role but platform).")
@click.option("--merchant", "merchant_id", type=int, default=None, help="Their merchant (role merchant).")
@click.option("--name", default="", help="Their name as the panel shows it.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given (read from standard input when it is not a terminal).")
@click.pass_context
def panel_user_create(ctx: click.Context, login: str, role: str, club_id: int | None, merchant_id: int | None, name: str,
                      password: str) -> None:
    """Make a panel user."""
    from kimia.service import staff

    with _service(_settings(ctx)) as service:
        user = staff.create_user(service, login=login, name=name or login, role=role, password=password, actor=_actor(),
                                 club_id=club_id, merchant_id=merchant_id)
    click.echo(f"user {user.id} ({user.login}, {user.role}) made · کاربر ساخته شد")


@panel_user.command("list")
@click.option("--club", "club_id", type=int, default=None, help="The club's users (default: the platform's).")
@click.pass_context
def panel_user_list(ctx: click.Context, club_id: int | None) -> None:
    """The users of a club (never their passwords)."""
    from kimia.service import staff

    with _service(_settings(ctx)) as service:
        rows = staff.list_users(service, club_id)
    click.echo(table(["id", "login", "role", "club", "merchant", "disabled"],
                     [[u.id, u.login, u.role, u.club_id or "-", u.merchant_id or "-", "yes" if u.disabled else "no"] for u in rows]))


@panel_user.command("disable")
@click.argument("user_id", type=int)
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_context
def panel_user_disable(ctx: click.Context, user_id: int, reason: str, enable: bool) -> None:
    """Disable a user (their sessions end at once), or enable them again."""
    from kimia.service import staff

    with _service(_settings(ctx)) as service:
        user = staff.set_disabled(service, user_id, not enable, actor=_actor(), reason=reason)
    click.echo(f"user {user.id} ({user.login}) {'disabled · غیرفعال شد' if user.disabled else 'enabled · فعال شد'}")


def _plugin_services() -> Any:
    """What a plugin's command gets from ``services()``: the service of the command's settings
    (assembled on first use, its plugins started as a ``cli`` process; told ``kimia_shutdown`` and
    closed when the process exits), as the plugin contract shows it."""
    import atexit

    from kimia.app import assemble
    from kimia.plugins.manager import started, stopping

    ctx = click.get_current_context()
    service = assemble(_settings(ctx))
    try:
        started(service.plugins, service.plugin_services, "cli")
    except BaseException:
        service.close()
        raise
    atexit.register(service.close)
    atexit.register(stopping, service.plugins, "cli")  # atexit runs last-registered first
    return service.plugin_services


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for machines.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """The loaded plugins (kimia's built-ins, installed ones, those KIMIA_PLUGINS names): where each
    comes from, the hooks it implements and what it registers (docs/plugins.md)."""
    import json

    from kimia.app import plugin_manager
    from kimia.plugins.manager import describe

    pm = plugin_manager(_settings(ctx))
    found = describe(pm)
    for entry in found:
        commands = _commands_of(pm, entry["name"])
        if commands:
            entry["commands"] = commands
    if as_json:
        click.echo(json.dumps({"plugins": found}, ensure_ascii=False, indent=1))
        return
    for entry in found:
        click.echo("\n".join(_plugin_lines(entry)))


def _commands_of(pm: Any, name: str) -> list[str]:
    """The commands a plugin adds, found by letting it add them to an empty group."""
    plugin = pm.get_plugin(name)
    group = click.Group("kimia")
    for impl in pm.hook.kimia_register_commands.get_hookimpls():
        if impl.plugin is plugin:
            args = {"cli": group, "services": _plugin_services}
            impl.function(**{a: args[a] for a in impl.argnames})
    names: list[str] = []

    def walk(cmd: click.Command, prefix: str) -> None:
        if isinstance(cmd, click.Group):
            for sub in sorted(cmd.commands):
                walk(cmd.commands[sub], f"{prefix} {sub}".strip())
        else:
            names.append(prefix)

    walk(group, "")
    return names


def _plugin_lines(entry: dict[str, Any]) -> list[str]:
    where = entry["origin"] + (f": {entry['distribution']}" if entry.get("distribution") else "")
    lines = [f"{entry['name']}  ({where})", "  hooks: " + (", ".join(entry["hooks"]) or "none")]
    for op in entry.get("terminal_operations", []):
        lines.append(f"  terminal operation {op['name']}: MTI {'/'.join(op['mtis'])}, processing code "
                     + "/".join(c if c else '(none)' for c in op["processing_codes"]))
    for d in entry.get("dialects", []):
        lines.append(f"  dialect {d['name']}" + (f": {d['description']}" if d["description"] else ""))
    for r in entry.get("api_routes", []):
        lines.append(f"  API route {r['method']} {r['path']} ({', '.join(r['access'])}): {r['summary']}")
    for p in entry.get("pages", []):
        menu = f", menu «{p['menu']['fa']}» / {p['menu']['en']}" if p["menu"] else ""
        lines.append(f"  page {p['path']} ({', '.join(p['roles'])}){menu}")
    schema = entry.get("schema")
    if schema:
        lines.append(f"  tables {', '.join(schema['tables']) or '(none found)'} (schema {schema['name']},"
                     f" migrations {', '.join(schema['migrations'])})")
    for c in entry.get("notification_channels", []):
        lines.append(f"  notification channel {c}")
    for t in entry.get("periodic_tasks", []):
        lines.append(f"  periodic task {t['name']} every {t['every_s']} s")
    for c in entry.get("commands", []):
        lines.append(f"  command kimia {c}")
    if entry.get("templates"):
        lines.append(f"  templates {', '.join(entry['templates'])}")
    for s in entry.get("static", []):
        lines.append(f"  static /static/plugins/{s['name']}/")
    if entry.get("words"):
        lines.append(f"  words {entry['words']}")
    return lines


def _add_plugin_commands() -> None:
    """The commands plugins add (``kimia_register_commands``), from the plugins the environment's
    settings load (every installed one unless KIMIA_PLUGINS names some)."""
    from kimia.app import plugin_manager
    from kimia.plugins import default_plugin_manager

    try:
        pm = plugin_manager(Settings.from_env())
    except KimiaError:  # a bad setting is refused, with its name, when a command runs
        pm = default_plugin_manager()
    pm.hook.kimia_register_commands(cli=main, services=_plugin_services)


_add_plugin_commands()


if __name__ == "__main__":
    main()
