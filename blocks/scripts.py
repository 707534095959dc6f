"""Call scripts and emails for each segment, rendered from Jinja2 text templates.

Templates render plain text only (never JSON or Block Kit); the card escapes the result for
mrkdwn. A folder of the user's own templates takes precedence over the built-in ones, file by file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.domain.vocabulary import Segment
from storage.case_view import CaseView

BUILT_IN = Path(__file__).parent / "templates"
OWNER_FALLBACK = "[your name]"

TEMPLATES = {
    "detractor": "detractor_call.j2",
    "detractor_no_comment": "detractor_email.j2",
    "passive": "passive_email.j2",
    "promoter": "promoter_thanks.j2",
}
FIX_TEMPLATE = "theme_fix_announcement.j2"
TITLES = {
    "detractor_call.j2": "Call script",
    "detractor_email.j2": "Email first: no comment was left",
    "passive_email.j2": "Personal email",
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
    return TEMPLATES.get(segment, TEMPLATES["passive"])


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
