"""`nps-bot import accounts|events FILE.csv`: the account directory and churn and renewal events
from CSV. Every line is checked first; a file with a bad line imports nothing."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app.cli_common import CommandError, database, fail, progress, text_lines
from bot.config.settings import load_settings

SHOWN_ERRORS = 50


def _report(shown: str, problems: list[tuple[Any, str]]) -> int:
    """Print the bad lines (the first 50) and say that nothing was imported."""
    for where, reason in problems[:SHOWN_ERRORS]:
        print(f"{shown}:{where}: {reason}", file=sys.stderr)
    more = f" (first {SHOWN_ERRORS} shown)" if len(problems) > SHOWN_ERRORS else ""
    return fail(f"{len(problems)} bad line(s){more}; nothing imported")


def _file(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise CommandError(f"{name}: no such file")
    return path


def import_accounts(name: str) -> int:
    """The account directory from a CRM export."""
    from bot.services.directory import FieldError, read_accounts_csv
    from storage.accounts import load_directory
    from storage.db import migrate

    parsed = list(read_accounts_csv(text_lines(_file(name), name)))
    errors = [row for row in parsed if isinstance(row, FieldError)]
    if errors:
        problems = [tuple(e.field.split(": ", 1)) for e in errors]
        return _report(name, [(w.removeprefix("line "), r) for w, r in problems])
    records = [row for row in parsed if not isinstance(row, FieldError)]
    with database(load_settings(), migrated=False) as engine:
        migrate(engine)
        result = load_directory(
            engine, records, now=datetime.now(UTC), progress=progress(len(records))
        )
    print(f"{result.read} accounts read: {result.created} new, {result.updated} updated")
    return 0


def import_events(name: str) -> int:
    """Churn and renewal events (`account_id,event,at,arr`)."""
    from bot.services.imports import CsvError, parse_account_csv
    from storage.account_events import import_account_events
    from storage.db import migrate

    parsed = list(parse_account_csv(text_lines(_file(name), name)))
    errors = [row for row in parsed if isinstance(row, CsvError)]
    if errors:
        return _report(name, [(e.line, e.reason) for e in errors])
    rows = [row for row in parsed if not isinstance(row, CsvError)]
    with database(load_settings(), migrated=False) as engine:
        migrate(engine)
        result = import_account_events(
            engine, rows, now=datetime.now(UTC), progress=progress(len(rows))
        )
    print(f"{result.read} events read: {result.created} new, {result.duplicates} already known")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.file is None:  # `nps-bot import FILE`, as before accounts had their own import
        print("nps-bot: note: this is `nps-bot import events FILE`", file=sys.stderr)
        return import_events(args.what)
    if args.what == "accounts":
        return import_accounts(args.file)
    if args.what == "events":
        return import_events(args.file)
    raise CommandError(f"import what? `accounts` or `events`, not {args.what[:40]!r}")


def register(sub: Any) -> None:
    """Add `import` to the command line."""
    imp = sub.add_parser(
        "import",
        help="import the account directory or churn and renewal events from CSV",
        description=(
            "accounts: account_id,name,arr,plan,renewal_date,owner,domains "
            "(domains space-separated); events: account_id,event,at,arr"
        ),
    )
    imp.add_argument("what", metavar="accounts|events", help="what the file holds")
    imp.add_argument("file", nargs="?", help="the CSV file (header on line 1)")
    imp.set_defaults(func=run)
