"""`nps-bot`: serve the bot, check the rules file, migrate the database."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.app import outbox_cmd
from bot.config.rules import Rules, RulesError, load_rules, rules_to_toml
from bot.config.settings import Settings, SettingsError, load_settings


def _fail(message: str) -> int:
    print(f"nps-bot: {message}", file=sys.stderr)
    return 2


def _load(*, serving: bool) -> tuple[Settings, Rules]:
    settings = load_settings()
    if serving:
        settings.require_serving()
    return settings, load_rules(settings.rules_path)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app.logs import configure
    from bot.app.server import build_services, create_app

    settings, rules = _load(serving=True)
    configure(settings.log_level)
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
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _prepare_database(engine: Any, *, migrate: bool) -> None:
    """Fail with one line when the database is unreachable or behind; migrate when asked."""
    from storage.db import migrate as run_migrations
    from storage.db import pending_migrations, ping

    if not ping(engine):
        raise SettingsError("DATABASE_URL: cannot connect to the database")
    if migrate:
        try:
            run_migrations(engine)
        except Exception as exc:
            raise SettingsError(f"DATABASE_URL: migration failed ({type(exc).__name__})") from exc
    elif pending_migrations(engine):
        raise SettingsError("DATABASE_URL: schema is behind; run `nps-bot migrate`")


def check_config(args: argparse.Namespace) -> int:
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
    from storage.db import create_db_engine, migrate

    settings = load_settings()
    migrate(create_db_engine(settings.database_url))
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


def import_cmd(args: argparse.Namespace) -> int:
    """Validate every line first; import nothing unless the whole file is clean."""
    from datetime import UTC, datetime

    from storage.db import create_db_engine, migrate
    from storage.reports import CsvError, import_account_events, parse_account_csv

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"{args.file}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as lines:
        parsed = list(parse_account_csv(lines))
    errors = [row for row in parsed if isinstance(row, CsvError)]
    if errors:
        for problem in errors[:50]:
            print(f"{args.file}:{problem.line}: {problem.reason}", file=sys.stderr)
        more = " (first 50 shown)" if len(errors) > 50 else ""
        return _fail(f"{len(errors)} bad line(s){more}; nothing imported")
    rows = [row for row in parsed if not isinstance(row, CsvError)]
    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    result = import_account_events(
        engine, rows, now=datetime.now(UTC), progress=_progress(len(rows))
    )
    print(f"{result.read} events read: {result.created} new, {result.duplicates} already known")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Every case as CSV for BI tools; no comments, emails or phone numbers."""
    import csv

    from storage.db import create_db_engine
    from storage.reports import EXPORT_COLUMNS, export_cases

    engine = create_db_engine(load_settings().database_url)
    with contextlib.ExitStack() as stack:
        out = (
            sys.stdout
            if args.file == "-"
            else stack.enter_context(open(args.file, "w", newline="", encoding="utf-8"))
        )
        writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        count = 0
        for row in export_cases(engine):
            writer.writerow(row)
            count += 1
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
    outbox_cmd.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, RulesError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
