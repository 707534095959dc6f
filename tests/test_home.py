"""App Home: the viewer's open cases, at most 100 blocks, and an empty state that explains."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.views import View

from blocks.home import home_view
from blocks.ids import HomeBlock
from blocks.report_parts import OpenCaseLike
from tests.test_card import NOW, assert_within_limits


@dataclass(frozen=True)
class Row:
    case_id: int
    segment: str = "detractor"
    score: int = 3
    status: str = "open"
    customer_name: str = "Dana Scully"
    account_name: str = "Acme Corp"
    arr: float | None = 120_000
    contact_due_at: datetime = NOW + timedelta(hours=20)
    overdue: bool = False


def home_dict(view: View) -> dict[str, Any]:
    data = view.to_dict()
    again = View(**data)
    again.validate_json()
    assert again.to_dict() == data
    assert data["type"] == "home"
    assert_within_limits(data["blocks"], max_blocks=100)
    return data


def rows_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in data["blocks"] if b.get("block_id", "").startswith(HomeBlock.CASE_PREFIX)]


def test_rows_in_the_given_order_with_status_deadline_and_link() -> None:
    rows: list[OpenCaseLike] = [
        Row(1, overdue=True, contact_due_at=NOW - timedelta(hours=3)),
        Row(2, segment="passive", score=7, status="claimed", arr=2_500_000, account_name="Big"),
        Row(3, segment="promoter", score=10, status="contacted", arr=None),
    ]
    links = {1: "https://acme.slack.com/archives/C1/p1714999999000100", 3: "https://x/p3"}
    data = home_dict(home_view(rows, now=NOW, links=links))
    shown = rows_of(data)
    assert [b["block_id"] for b in shown] == ["home_case_1", "home_case_2", "home_case_3"]
    first, second, third = (b["text"]["text"] for b in shown)
    assert "*Dana Scully* · Acme Corp · Detractor 3/10 · $120k ARR" in first
    assert ":warning: overdue" in first
    assert f"<!date^{int((NOW - timedelta(hours=3)).timestamp())}^" in first
    assert "<https://acme.slack.com/archives/C1/p1714999999000100|Open the card>" in first
    assert "Claimed" in second and "$2.5M ARR" in second and "overdue" not in second
    assert "Open the card" not in second  # no link known
    assert "Contacted" in third and "unknown ARR" in third
    summary = next(b for b in data["blocks"] if b.get("block_id") == HomeBlock.SUMMARY)
    assert (
        "3 open" in summary["elements"][0]["text"] and "1 overdue" in summary["elements"][0]["text"]
    )


def test_empty_state_explains_what_the_bot_does() -> None:
    data = home_dict(home_view([], now=NOW, links={}))
    text = next(b for b in data["blocks"] if b.get("block_id") == HomeBlock.EMPTY)["text"]["text"]
    assert "48 hours" in text and "Detractors" in text
    assert "5 business days" in text and "7 days" in text
    assert "channel" in text


def test_many_long_rows_stay_within_100_blocks() -> None:
    rows = [
        Row(
            i,
            customer_name="<@U123> & " + "N" * 500,
            account_name="<!channel> " + "A" * 500,
            overdue=i % 2 == 0,
            status="weird <status>",
        )
        for i in range(1, 301)
    ]
    links = {i: f"https://acme.slack.com/archives/C1/p{i}" for i in range(1, 301)}
    data = home_dict(home_view(rows, now=NOW, links=links))
    assert len(data["blocks"]) == 100
    assert len(rows_of(data)) == 96
    more = next(b for b in data["blocks"] if b.get("block_id") == HomeBlock.MORE)
    assert "204 more" in more["elements"][0]["text"]
    raw = json.dumps(data)
    assert "<@U123" not in raw and "<!channel" not in raw and "<status" not in raw


def test_exactly_full_page_needs_no_more_line() -> None:
    rows = [Row(i) for i in range(97)]
    data = home_dict(home_view(rows, now=NOW, links={}))
    assert len(data["blocks"]) == 100 and len(rows_of(data)) == 97


def test_unsafe_links_are_not_emitted() -> None:
    data = home_dict(home_view([Row(1)], now=NOW, links={1: "javascript:alert(1)|x>"}))
    text = rows_of(data)[0]["text"]["text"]
    assert "javascript" not in text and "<" not in text.replace("<!date^", "")
