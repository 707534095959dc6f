"""The sandbox page on the server: mrkdwn as HTML, the bot's real card and modals as HTML."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from blocks import modals
from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.fields import field_of
from bot.app.sandbox.mrkdwn import to_html
from bot.app.sandbox.page import Page, offset_words
from bot.app.sandbox.people import PEOPLE, Directory
from bot.app.sandbox.slack_api import SANDBOX_TOKEN, SlackApi
from bot.app.sandbox.store import SlackState

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NAMES = {"U0SBALICE": "Alice Owens"}.get


def html(text: str) -> str:
    return str(to_html(text, lambda u: NAMES(u) or u, lambda c: "cs-alice"))


def test_mentions_channels_and_links_become_html():
    assert html("<@U0SBALICE> owns it") == '<span class="mention">@Alice Owens</span> owns it'
    assert html("see <#C0SBALICE>") == 'see <span class="mention">#cs-alice</span>'
    assert html("<https://example.com/a?b=1&amp;c=2|the card>") == (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer" '
        'target="_blank">the card</a>'
    )
    assert html("<javascript:alert(1)|click>") == "click"


def test_dates_become_time_elements_the_script_formats():
    out = html("due <!date^1763632800^{date_short_pretty} at {time}|2025-11-20 10:00 UTC>")
    assert out == (
        'due <time datetime="2025-11-20T10:00:00Z" data-format="{date_short_pretty} at {time}">'
        "2025-11-20 10:00 UTC</time>"
    )


def test_customer_text_stays_text():
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <!channel>"
    assert html(escaped) == (
        '&lt;script&gt;alert(1)&lt;/script&gt; &amp; <span class="mention">@channel</span>'
    )
    assert "<b" not in html("<b>bold</b>")


def test_emphasis_code_quotes_and_emoji():
    assert html("*Status:* _open_ ~old~ `id`") == (
        "<strong>Status:</strong> <em>open</em> <s>old</s> <code>id</code>"
    )
    assert html("> We are leaving\n> soon\nThanks") == (
        "<blockquote>We are leaving<br>soon</blockquote>Thanks"
    )
    assert html(":red_circle: Detractor") == "\U0001f534 Detractor"
    assert html(":not_an_emoji:") == ":not_an_emoji:"


def test_offset_words():
    assert offset_words(timedelta(0)) == "real time"
    assert offset_words(timedelta(hours=36)) == "+1 day 12 h"
    assert offset_words(timedelta(days=7)) == "+7 days"


@pytest.fixture
def state() -> SlackState:
    return SlackState(Directory(), OffsetClock(lambda: NOW), base_url="http://127.0.0.1:3000")


def test_the_bots_modal_becomes_labelled_fields():
    view = modals.resolve_modal(
        7,
        root_causes=["Billing errors"],
        needs_root_cause=True,
        resurvey_default=date(2026, 12, 20),
    ).to_dict()
    found = {
        b["block_id"]: field_of(
            b, entered={}, errors={"summary": "Too short"}, people=PEOPLE, channels=()
        )
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert found["summary"].widget == "textarea" and found["summary"].error == "Too short"
    assert found["satisfied"].widget == "radio"
    assert [c.text for c in found["satisfied"].choices] == ["Yes", "No"]
    assert found["cause"].widget == "select" and found["cause"].choices[0].value == "Billing errors"
    assert found["resurvey_on"].input_type == "date" and found["resurvey_on"].value == "2026-12-20"
    typed = field_of(
        next(b for b in view["blocks"] if b.get("block_id") == "resurvey_on"),
        entered={"resurvey_on": {"resurvey_on_input": "2027-01-05"}},
        errors={},
        people=PEOPLE,
        channels=(),
    )
    assert typed.value == "2027-01-05"


def test_a_card_and_its_refusal_render_for_the_person_who_sees_them(state):
    api = SlackApi(state)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: Detractor"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Owner*\n<@U0SBALICE>"}],
        },
        {
            "type": "actions",
            "block_id": "case_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "case_claim",
                    "text": {"type": "plain_text", "text": "Claim"},
                    "value": "1",
                }
            ],
        },
    ]
    card = api.call(
        "chat.postMessage",
        {"channel": "C0SBALICE", "text": "Detractor 3/10", "blocks": blocks},
        token=SANDBOX_TOKEN,
    )
    api.call(
        "chat.postMessage",
        {"channel": "C0SBALICE", "text": "Alice claimed this case.", "thread_ts": card["ts"]},
        token=SANDBOX_TOKEN,
    )
    api.call(
        "chat.postEphemeral",
        {"channel": "C0SBALICE", "user": "U0SBSAM", "text": "Only the owner can claim this."},
        token=SANDBOX_TOKEN,
    )
    page = Page(state)
    directory = state.directory
    as_sam = page.regions(directory.person("U0SBSAM"), "C0SBALICE", now=NOW, offset=timedelta(0))
    pane = as_sam["pane"]
    assert re.search(r'<button type="button" class="btn btn-default"[^>]*>Claim</button>', pane)
    assert 'data-action-id="case_claim"' in pane and 'data-block-id="case_actions"' in pane
    assert "@Alice Owens" in pane and "1 reply" in pane
    assert "Only visible to you" in pane and "Only the owner can claim this." in pane
    as_alice = page.regions(
        directory.person("U0SBALICE"), "C0SBALICE", now=NOW, offset=timedelta(0)
    )
    assert "Only the owner can claim this." not in as_alice["pane"]
    assert 'aria-current="page"' in as_alice["sidebar"]


def test_someone_elses_dm_is_shown_with_its_buttons_disabled(state):
    api = SlackApi(state)
    button = {
        "type": "button",
        "action_id": "escalation_nudge",
        "text": {"type": "plain_text", "text": "Nudge the owner"},
        "value": "1",
    }
    blocks = [{"type": "actions", "block_id": "message_actions", "elements": [button]}]
    api.call(
        "chat.postMessage",
        {"channel": "U0SBMARK", "text": "Escalation", "blocks": blocks},
        token=SANDBOX_TOKEN,
    )
    page = Page(state)
    pane = page.regions(
        state.directory.person("U0SBALICE"), "D0SBMARK", now=NOW, offset=timedelta(0)
    )["pane"]
    assert "In Slack only Mark Mendes sees this conversation" in pane
    assert re.search(r"disabled[^>]*>Nudge the owner</button>", pane)


def test_an_open_modal_renders_with_errors_tied_to_their_fields(state):
    api = SlackApi(state)
    view = modals.log_contact_modal(7, today=date(2026, 11, 20)).to_dict()
    opened = api.call(
        "views.open",
        {"trigger_id": state.issue_trigger("U0SBALICE"), "view": view},
        token=SANDBOX_TOKEN,
    )
    state.views[opened["view"]["id"]].errors = {"contact_outcome": "Pick one."}
    modal = Page(state).regions(
        state.directory.person("U0SBALICE"), "C0SBALICE", now=NOW, offset=timedelta(0)
    )
    assert modal["modal_key"]
    html_ = modal["modal"]
    assert '<h2 id="modal-title">Log contact</h2>' in html_
    assert "<legend>How</legend>" in html_ and '<label for="f-contact_how-1">Phone</label>' in html_
    assert re.search(
        r'<fieldset[^>]*aria-describedby="e-contact_outcome"[^>]*aria-invalid="true"', html_
    )
    assert '<p class="field-error" id="e-contact_outcome">Pick one.</p>' in html_
    assert (
        '<label for="f-contact_notes">Notes <span class="optional">(optional)</span></label>'
        in html_
    )
    assert 'type="date"' in html_ and ">Save</button>" in html_
