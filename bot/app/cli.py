"""`nps-bot`: serve the bot, check the rules file, migrate the database."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from bot.config.rules import Rules, RulesError, load_rules, rules_to_toml
from bot.config.settings import Settings, SettingsError, load_settings


class CommandError(Exception):
    """A command cannot go on; the message is for the user, one problem per line."""


def _fail(message: str) -> int:
    """Print each line of `message` as its own `nps-bot: ` line; the exit status for errors."""
    for line in message.splitlines() or [""]:
        print(f"nps-bot: {line}", file=sys.stderr)
    return 2


def _database_problem(exc: sa.exc.SQLAlchemyError, backend: str) -> str:
    """One line on a failed database call: the backend and the kind of error, never the URL."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return f"DATABASE_URL: lost the connection to the {backend} database"
    cause = getattr(exc, "orig", None) or exc
    return f"DATABASE_URL: the {backend} database failed ({type(cause).__name__})"


def _configured_backend() -> str:
    """The configured database's backend, for an error line; never its URL."""
    try:
        return load_settings().database_backend
    except (SettingsError, OSError, UnicodeDecodeError):
        return "configured"


@contextlib.contextmanager
def _database(settings: Settings, *, migrated: bool) -> Iterator[sa.Engine]:
    """An engine that answers (and is migrated, when asked); its failures become one line."""
    from alembic.util import CommandError as AlembicError

    from storage.db import create_db_engine, pending_migrations, ping

    backend = settings.database_backend
    try:
        engine = create_db_engine(settings.database_url)
    except OSError as exc:
        raise CommandError(
            f"DATABASE_URL: cannot create the {backend} database at {exc.filename} "
            f"({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        if not ping(engine):
            raise CommandError(f"DATABASE_URL: cannot connect to the {backend} database")
        if migrated and pending_migrations(engine):
            raise CommandError(
                f"DATABASE_URL: the {backend} database schema is behind; run `nps-bot migrate`"
            )
        yield engine
    except sa.exc.SQLAlchemyError as exc:
        raise CommandError(_database_problem(exc, backend)) from None
    except AlembicError as exc:
        raise CommandError(f"DATABASE_URL: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def _load(*, serving: bool) -> tuple[Settings, Rules]:
    settings = load_settings()
    if serving:
        settings.require_serving()
    return settings, load_rules(settings.rules_path)


def serve(args: argparse.Namespace) -> int:
    if load_settings().sandbox:
        return sandbox_cmd(args)
    import uvicorn

    from bot.app.logs import configure
    from bot.app.server import build_services, create_app

    settings, rules = _load(serving=True)
    configure(settings.log_level, settings.log_format)
    services = build_services(settings, rules)
    _prepare_database(services.engine, migrate=not args.no_migrate)
    app = create_app(services, run_migrations=False)
    # Everything loaded so far lives as long as the process: keep the collector off it, so
    # collections scan only the short-lived objects of requests.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn's own lines go through the bot's handler: one format, text or JSON.
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def sandbox_cmd(args: argparse.Namespace) -> int:
    """The bot against an embedded Slack, with a page to click through; never with real tokens."""
    import uvicorn

    from bot.app.logs import configure
    from bot.app.sandbox.launch import prepare, sandbox_routes, start_demo
    from bot.app.server import build_services, create_app

    settings = load_settings()
    if not settings.sandbox:
        return _fail(
            "the sandbox never runs with SLACK_BOT_TOKEN or SLACK_APP_TOKEN set; "
            "unset them, or use `nps-bot serve`"
        )
    launch = prepare(settings)
    services = build_services(launch.settings, launch.rules, clock=launch.clock)
    launch.check_database(services.engine)
    configure(settings.log_level)
    _prepare_database(services.engine, migrate=True)
    app = create_app(services, run_migrations=False, sandbox=sandbox_routes(launch, services))
    print("\n".join(launch.banner()), flush=True)
    if getattr(args, "demo", False):
        start_demo(launch)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _prepare_database(engine: Any, *, migrate: bool) -> None:
    """Fail with one line when the database is unreachable or behind; migrate when asked."""
    from storage.db import migrate as run_migrations
    from storage.db import pending_migrations, ping

    backend = engine.dialect.name
    if not ping(engine):
        raise SettingsError(f"DATABASE_URL: cannot connect to the {backend} database")
    if migrate:
        try:
            run_migrations(engine)
        except Exception as exc:
            raise SettingsError(f"DATABASE_URL: migration failed ({type(exc).__name__})") from exc
    elif pending_migrations(engine):
        raise SettingsError(
            f"DATABASE_URL: the {backend} database schema is behind; run `nps-bot migrate`"
        )


def check_config(args: argparse.Namespace) -> int:
    """Print the effective rules; refuse them if a script template does not render."""
    from bot.app.template_check import template_problems

    path = args.file
    if path is None:
        settings = load_settings()
        path = settings.rules_path
    rules = load_rules(path)
    source = str(path) if path else "built-in defaults"
    print(f"# effective rules ({source})")
    print(rules_to_toml(rules), end="")
    for warning in _warnings(rules):
        print(f"# warning: {warning}", file=sys.stderr)
    problems = template_problems(rules.templates_dir)
    if problems:
        raise CommandError("\n".join(problems))
    return 0


def _warnings(rules: Rules) -> list[str]:
    people = rules.people
    found = []
    if not people.default_channel:
        found.append("people.default_channel is not set: cards of unknown owners go to their DMs")
    if not people.cx_lead:
        found.append("people.cx_lead is not set: churn alerts and 36h escalations have no one")
    return found


def migrate_cmd(args: argparse.Namespace) -> int:
    from storage.db import migrate

    settings = load_settings()
    with _database(settings, migrated=False) as engine:
        migrate(engine)
    print(f"database migrated ({settings.database_backend})")
    return 0


def _progress(total: int) -> Callable[[int], None]:
    """A progress bar on stderr for `total` rows."""

    def show(done: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        print(f"\rimporting [{bar}] {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

    return show


def _text_lines(path: Path, shown: str) -> Iterator[str]:
    """The file's lines as text, endings kept; a line that is not UTF-8 stops with its number."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise CommandError(
                    f"{shown}:{number}: not UTF-8 text; save the file as CSV UTF-8 "
                    "(Excel: Save As > CSV UTF-8)"
                ) from None


def import_cmd(args: argparse.Namespace) -> int:
    """Validate every line first; import nothing unless the whole file is clean."""
    from datetime import UTC, datetime

    from bot.services.imports import CsvError, parse_account_csv
    from storage.account_events import import_account_events
    from storage.db import migrate

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"{args.file}: no such file")
    parsed = list(parse_account_csv(_text_lines(path, args.file)))
    errors = [row for row in parsed if isinstance(row, CsvError)]
    if errors:
        for problem in errors[:50]:
            print(f"{args.file}:{problem.line}: {problem.reason}", file=sys.stderr)
        more = " (first 50 shown)" if len(errors) > 50 else ""
        return _fail(f"{len(errors)} bad line(s){more}; nothing imported")
    rows = [row for row in parsed if not isinstance(row, CsvError)]
    with _database(load_settings(), migrated=False) as engine:
        migrate(engine)
        result = import_account_events(
            engine, rows, now=datetime.now(UTC), progress=_progress(len(rows))
        )
    print(f"{result.read} events read: {result.created} new, {result.duplicates} already known")
    return 0


def _write_csv(out: IO[str], columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write a header and the rows; how many rows were written."""
    import csv

    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def export_cmd(args: argparse.Namespace) -> int:
    """Every case as CSV for BI tools; no comments, emails or phone numbers."""
    from storage.export import EXPORT_COLUMNS, export_cases

    with _database(load_settings(), migrated=True) as engine:
        if args.file == "-":
            count = _write_csv(sys.stdout, EXPORT_COLUMNS, export_cases(engine))
        else:
            target = Path(args.file)
            try:
                out = target.open("w", newline="", encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{args.file}: cannot write ({exc.strerror})") from None
            try:
                with out:
                    count = _write_csv(out, EXPORT_COLUMNS, export_cases(engine))
            except BaseException:
                target.unlink(missing_ok=True)  # no half-written export left behind
                raise
    print(f"{count} cases exported", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="nps-bot",
        description="Closes the NPS loop in Slack. Settings come from the environment and .env.",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("serve", help="run the HTTP server (and Socket Mode when configured)")
    run.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    run.set_defaults(func=serve)
    box = sub.add_parser("sandbox", help="try the bot without Slack, in the browser")
    box.add_argument("--demo", action="store_true", help="load a few example responses")
    box.set_defaults(func=sandbox_cmd)
    check = sub.add_parser("check-config", help="validate the rules file and print it")
    check.add_argument("file", nargs="?", help="rules file (default: NPS_BOT_CONFIG)")
    check.set_defaults(func=check_config)
    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.set_defaults(func=migrate_cmd)
    imp = sub.add_parser("import", help="import churn and renewal events from a CSV file")
    imp.add_argument("file", help="CSV with the header account_id,event,at,arr")
    imp.set_defaults(func=import_cmd)
    exp = sub.add_parser("export", help="export every case as CSV for BI tools")
    exp.add_argument("file", help="where to write the CSV (- for standard output)")
    exp.set_defaults(func=export_cmd)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, RulesError, CommandError) as exc:
        return _fail(str(exc))
    except sa.exc.SQLAlchemyError as exc:
        return _fail(_database_problem(exc, _configured_backend()))
    except UnicodeDecodeError as exc:
        return _fail(f"a file is not UTF-8 text (byte {exc.start}); save it as UTF-8")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or type(exc).__name__}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
