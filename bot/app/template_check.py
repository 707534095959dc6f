"""`check-config`'s template check: every script template rendered against sample cases, and
the fix announcement against a sample fix."""

from __future__ import annotations

import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

from blocks.fixes import announcement_context
from blocks.scripts import FIX_TEMPLATE, TEMPLATES, Scripts, script_context
from bot.domain.vocabulary import Reason, Segment
from storage.case_view import CaseView
from storage.fixes import Fix
from storage.models import Account, Customer, FollowUpCase, SurveyResponse

SAMPLE_TIME = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
_SAMPLE_TOUCHPOINT = {
    "kind": "invoice_dispute",
    "at": (SAMPLE_TIME - timedelta(days=2)).isoformat(),
    "summary": "Disputed the November invoice",
}


def _sample_view(*, full: bool) -> CaseView:
    """A case as the bot would read it: every optional field set when `full`, none otherwise."""
    account = Account(
        id="a-sample",
        name="Sample Account",
        arr=120_000 if full else None,
        owner="U0SAMPLE",
        plan="Enterprise" if full else None,
        renewal_date=date(2027, 3, 1) if full else None,
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )
    customer = Customer(
        id="c-sample",
        account_id=account.id,
        name="Dana Reyes" if full else "",
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )
    response = SurveyResponse(
        response_id="r-sample",
        customer_id=customer.id,
        account_id=account.id,
        score=3 if full else 7,
        comment="Support keeps us waiting." if full else None,
        submitted_at=SAMPLE_TIME,
        received_at=SAMPLE_TIME,
        touchpoints=[_SAMPLE_TOUCHPOINT] if full else [],
    )
    case = FollowUpCase(
        id=1,
        response_id=response.response_id,
        account_id=account.id,
        customer_id=customer.id,
        segment=Segment.DETRACTOR if full else Segment.PASSIVE,
        score=response.score,
        reasons=[r.value for r in Reason] if full else [],
        received_at=SAMPLE_TIME,
        contact_due_at=SAMPLE_TIME + timedelta(hours=48),
        resolution_due_at=SAMPLE_TIME + timedelta(days=7),
        tier="Critical" if full else None,
        routed_by={"rule": 0, "owner": "U0BILLING", **_SAMPLE_TOUCHPOINT} if full else None,
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )
    return CaseView(case, response, account, customer, earlier_scores=[])


def sample_contexts() -> list[dict[str, Any]]:
    """The variables of a case with every optional field set, and of one with none set."""
    return [
        script_context(_sample_view(full=True), owner_name="Sam Lee"),
        script_context(_sample_view(full=False), owner_name=None),
    ]


def sample_fix_contexts() -> list[dict[str, Any]]:
    """The variables of the fix announcement for a sample fix."""
    fix = Fix(
        1, "Billing errors", "invoices are right first time", date(2026, 11, 2), "U0", SAMPLE_TIME
    )
    return [announcement_context(fix)]


def _line_of(exc: BaseException, filename: str | None) -> int | None:
    """The line of the template where rendering failed, when the traceback shows it."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    if filename is None:
        return None
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _problem(name: str, exc: BaseException, filename: str | None) -> str:
    """One line: the template, the line when known, and what is wrong."""
    line = _line_of(exc, filename)
    if isinstance(exc, TemplateSyntaxError) and exc.name and exc.name != name:
        name = f"{name} (in {exc.name})"  # the error is in a template it includes
    where = f"{name} line {line}" if line else name
    if isinstance(exc, TemplateNotFound):
        return f"{where}: no template named {exc.name}"
    if isinstance(exc, TemplateError):
        reason = exc.message or type(exc).__name__
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return f"{where}: {reason.splitlines()[0] if reason else type(exc).__name__}"


def template_problems(templates_dir: str | None) -> list[str]:
    """Each broken template as `templates_dir: <file>[ line N]: <problem>`; empty when all render.

    Every template the bot uses and every `.j2` file in `templates_dir` is rendered against
    the sample cases with strict undefined variables, as the bot renders them.
    """
    names = set(TEMPLATES.values()) | {FIX_TEMPLATE}
    if templates_dir:
        folder = Path(templates_dir)
        if not folder.is_dir():
            return [f"templates_dir: no folder at {templates_dir}"]
        names |= {p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".j2"}
    scripts = Scripts(templates_dir or None)
    problems = []
    for name in sorted(names):
        filename = None
        try:
            template = scripts.env.get_template(name)
            filename = template.filename
            samples = sample_fix_contexts() if name == FIX_TEMPLATE else sample_contexts()
            for context in samples:
                template.render(**context)
        except Exception as exc:
            problems.append(f"templates_dir: {_problem(name, exc, filename)}")
    return problems
