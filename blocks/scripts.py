"""Call scripts and emails for each segment, rendered from Jinja2 text templates.

Templates render plain text only (never JSON or Block Kit); the card escapes the result for
mrkdwn. A folder of the user's own templates takes precedence over the built-in ones, file by file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.domain.vocabulary import Reason, Segment
from storage.case_view import CaseView

BUILT_IN = Path(__file__).parent / "templates"
OWNER_FALLBACK = "[your name]"

TEMPLATES = {
    "detractor": "detractor_call.j2",
    "detractor_no_comment": "detractor_email.j2",
    "passive": "passive_email.j2",
    "passive_call": "passive_call.j2",
    "promoter": "promoter_thanks.j2",
}
FIX_TEMPLATE = "theme_fix_announcement.j2"
TITLES = {
    "detractor_call.j2": "Call script",
    "detractor_email.j2": "Email first: no comment was left",
    "passive_email.j2": "Personal email",
    "passive_call.j2": "Call script: top-revenue Passive",
    "promoter_thanks.j2": "Thank-you and advocacy ask",
}


@dataclass(frozen=True)
class Script:
    """A rendered script: a short title and plain text (not yet escaped for mrkdwn)."""

    title: str
    text: str


def template_name(view: CaseView) -> str:
    """Which template fits the case: by segment, and for Detractors whether they commented."""
    segment = view.case.segment
    if segment == Segment.DETRACTOR and not (view.response.comment or "").strip():
        return TEMPLATES["detractor_no_comment"]
    if segment == Segment.PASSIVE and Reason.TOP_REVENUE in view.case.reasons:
        return TEMPLATES["passive_call"]
    return TEMPLATES.get(segment, TEMPLATES["passive"])


def _on(value: Any) -> date | None:
    """A touchpoint's time as a calendar date, or None when it does not read as one."""
    if isinstance(value, datetime):
        return value.date()
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


def touchpoint_context(view: CaseView) -> list[dict[str, Any]]:
    """The latest touchpoints before the answer, newest first: kind (in words), day and summary."""
    items = []
    for item in view.touchpoints:
        if not isinstance(item, Mapping):
            continue
        on = _on(item.get("at"))
        items.append(
            {
                "kind": str(item.get("kind") or "touchpoint").replace("_", " ").strip(),
                "on": on,
                "day": f"{on.day} {on:%B}" if on else None,
                "summary": str(item.get("summary") or "").strip() or None,
            }
        )
    return items


def script_context(
    view: CaseView,
    *,
    owner_name: str | None,
    team: str = "Customer Success",
    company: str | None = None,
) -> dict[str, Any]:
    """The variables every template receives."""
    case, customer, account = view.case, view.customer, view.account
    name = (customer.name or "").strip()
    comment = (view.response.comment or "").strip()
    touchpoints = touchpoint_context(view)
    return {
        "customer_name": name or "there",
        "first_name": name.split()[0] if name else "there",
        "account_name": account.name,
        "owner_name": (owner_name or "").strip() or OWNER_FALLBACK,
        "team": team,
        "company": company,
        "score": case.score,
        "comment": comment or None,
        "segment": case.segment,
        "reasons": list(case.reasons),
        "plan": account.plan,
        "renewal_date": account.renewal_date,
        "contact_due_at": case.contact_due_at,
        "arr": account.arr,
        "tier": case.tier,
        "top_revenue": Reason.TOP_REVENUE in case.reasons,
        "routed_by": dict(case.routed_by) if case.routed_by else None,
        "touchpoints": touchpoints,
        "last_touchpoint": touchpoints[0] if touchpoints else None,
    }


class Scripts:
    """The script templates: the user's folder first (when given), then the built-in ones."""

    def __init__(self, templates_dir: str | Path | None = None) -> None:
        loaders = [FileSystemLoader(str(templates_dir))] if templates_dir else []
        loaders.append(FileSystemLoader(str(BUILT_IN)))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        """One template rendered as plain text, surrounding blank lines trimmed."""
        return self.env.get_template(name).render(**context).strip()

    def script_for(
        self,
        view: CaseView,
        *,
        owner_name: str | None,
        team: str = "Customer Success",
        company: str | None = None,
    ) -> Script:
        """The script the owner follows for this case."""
        name = template_name(view)
        context = script_context(view, owner_name=owner_name, team=team, company=company)
        return Script(title=TITLES[name], text=self.render(name, context))


@cache
def _built_in() -> Scripts:
    return Scripts()


def script_for(
    view: CaseView,
    *,
    owner_name: str | None,
    team: str = "Customer Success",
    company: str | None = None,
    scripts: Scripts | None = None,
) -> Script:
    """The script for a case from `scripts`, or from the built-in templates."""
    return (scripts or _built_in()).script_for(
        view, owner_name=owner_name, team=team, company=company
    )
