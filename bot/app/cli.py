"""`nps-bot`: serve the bot, check the rules file, migrate the database."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from bot.app import import_cmd, outbox_cmd
from bot.app.cli_common import (
    CommandError,
    configured_backend,
    database,
    database_problem,
    fail,
)
from bot.config.rules import Rules, RulesError, load_rules, rules_to_toml
from bot.config.settings import Settings, SettingsError, load_settings

TOLD = "told"  # `export told --theme NAME`: a theme's customers told or to tell


def _load(*, serving: bool) -> tuple[Settings, Rules]:
    settings = load_settings()
    if serving:
        settings.require_serving()
    rules = load_rules(settings.rules_path)
    if serving:
        _check_sources(rules, settings)
    return settings, rules


def _check_sources(rules: Rules, settings: Settings) -> None:
    """Every secret and token the survey sources name must be in the environment."""
    from bot.config.sources import environment_problems

    problems = environment_problems(rules.sources, settings.environment)
    if problems:
        raise CommandError("\n".join(f"{key}: {reason}" for key, reason in problems))


def serve(args: argparse.Namespace) -> int:
    if load_settings().sandbox:
        return sandbox_cmd(args)
    import uvicorn

    from bot.app.logs import configure
    from bot.app.server import create_app
    from bot.app.wiring import build_services

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
    from bot.app.server import create_app
    from bot.app.wiring import build_services

    settings = load_settings()
    if not settings.sandbox:
        return fail(
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

    settings = load_settings()
    path = args.file if args.file is not None else settings.rules_path
    rules = load_rules(path)
    source = str(path) if path else "built-in defaults"
    print(f"# effective rules ({source})")
    print(rules_to_toml(rules), end="")
    for warning in _warnings(rules):
        print(f"# warning: {warning}", file=sys.stderr)
    _check_sources(rules, settings)
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
    with database(settings, migrated=False) as engine:
        migrate(engine)
    print(f"database migrated ({settings.database_backend})")
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


def export_told_cmd(args: argparse.Namespace) -> int:
    """The customers told or to tell about a theme's latest fix, as CSV; no comments."""
    from storage.fixes import TOLD_COLUMNS, export_told

    if not args.theme:
        raise CommandError("export told needs --theme NAME")
    with database(load_settings(), migrated=True) as engine:
        rows = export_told(engine, args.theme)
    if args.out in (None, "-"):
        count = _write_csv(sys.stdout, TOLD_COLUMNS, rows)
    else:
        with Path(args.out).open("w", newline="", encoding="utf-8") as out:
            count = _write_csv(out, TOLD_COLUMNS, rows)
    print(f"{count} customers exported", file=sys.stderr)
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Every case as CSV for BI tools; no comments, emails or phone numbers."""
    from storage.export import EXPORT_COLUMNS, export_cases

    if args.file == TOLD:
        return export_told_cmd(args)
    with database(load_settings(), migrated=True) as engine:
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
    import_cmd.register(sub)
    exp = sub.add_parser("export", help="export every case as CSV for BI tools")
    exp.add_argument(
        "file",
        help="where to write the CSV (- for standard output); `told` for a theme's customers",
    )
    exp.add_argument("out", nargs="?", help="with `told`: where to write (default: stdout)")
    exp.add_argument("--theme", help="with `told`: the theme fixed")
    exp.set_defaults(func=export_cmd)
    outbox_cmd.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, RulesError, CommandError) as exc:
        return fail(str(exc))
    except sa.exc.SQLAlchemyError as exc:
        return fail(database_problem(exc, configured_backend()))
    except UnicodeDecodeError as exc:
        return fail(f"a file is not UTF-8 text (byte {exc.start}); save it as UTF-8")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or type(exc).__name__}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
