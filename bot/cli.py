"""`nps-bot`: serve the bot, check the rules file, migrate the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bot.rules import Rules, RulesError, load_rules, rules_to_toml
from bot.settings import Settings, SettingsError, load_settings


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

    from bot.logs import configure
    from bot.server import build_services, create_app

    settings, rules = _load(serving=True)
    configure(settings.log_level)
    services = build_services(settings, rules)
    _prepare_database(services.engine, migrate=not args.no_migrate)
    app = create_app(services, run_migrations=False)
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
