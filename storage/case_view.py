"""Everything a card or an alert shows about a case, read in one go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.models import Account, Customer, FollowUpCase, SurveyResponse
from storage.touchpoints import latest_before, merge_latest

EARLIER_SCORES = 5


@dataclass(frozen=True)
class CaseView:
    """Everything a card or an alert shows about a case, read in one go.

    `touchpoints` are the latest three before the answer, from the feed and from the payload;
    left out, they are the payload's.
    """

    case: FollowUpCase
    response: SurveyResponse
    account: Account
    customer: Customer
    earlier_scores: list[tuple[datetime, int]]
    touchpoints: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.touchpoints and self.response.touchpoints:
            object.__setattr__(
                self, "touchpoints", merge_latest(self.response.touchpoints, limit=None)
            )


def _before(items: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    """The payload's touchpoints up to the answer (unreadable times are kept)."""
    kept = []
    for item in items:
        try:
            at = datetime.fromisoformat(str(item.get("at")))
        except (AttributeError, ValueError):
            kept.append(item)
            continue
        if at.tzinfo is None or at <= moment:
            kept.append(item)
    return kept


def case_view(engine: Any, case_id: int) -> CaseView | None:
    """The case with its response, account, customer, earlier scores and latest touchpoints."""
    with Session(engine) as session:
        case = session.get(FollowUpCase, case_id)
        if case is None:
            return None
        response = session.exec(
            select(SurveyResponse).where(SurveyResponse.response_id == case.response_id)
        ).one()
        account = session.get(Account, case.account_id)
        customer = session.get(Customer, case.customer_id)
        earlier = session.exec(
            select(SurveyResponse.submitted_at, SurveyResponse.score)
            .where(
                SurveyResponse.customer_id == case.customer_id,
                SurveyResponse.response_id != case.response_id,
                SurveyResponse.received_at <= response.received_at,
            )
            .order_by(SurveyResponse.submitted_at.desc())
            .limit(EARLIER_SCORES)
        ).all()
        feed = latest_before(
            session.connection(),
            account_id=case.account_id,
            email=customer.email if customer else None,
            before=response.submitted_at,
        )
        session.expunge_all()
    assert account is not None and customer is not None
    touchpoints = merge_latest(
        _before(response.touchpoints or [], response.submitted_at), feed, limit=None
    )
    return CaseView(case, response, account, customer, [(at, s) for at, s in earlier], touchpoints)
