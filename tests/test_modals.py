"""The modals (shape and limits) and the parsers of their view_submission state values."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from slack_sdk.models.views import View

from blocks.forms import (
    LogContactInput,
    ReassignInput,
    ResolveInput,
    RootCauseInput,
    parse_log_contact,
    parse_reassign,
    parse_resolve,
    parse_root_cause,
)
from blocks.ids import ModalAction, ModalBlock, ModalCallback
from blocks.modals import (
    log_contact_modal,
    private_metadata,
    read_metadata,
    reassign_modal,
    resolve_modal,
    root_cause_modal,
)
from tests.test_card import assert_within_limits, walk

TODAY = date(2024, 5, 6)
CAUSES = ["Product bug", "Onboarding", "Pricing", "Support response time"]


# -- state values, in the shapes Slack sends (view.state.values) ---------------------------------


def radio(value: str | None, label: str = "Option") -> dict[str, Any]:
    if value is None:
        return {"type": "radio_buttons", "selected_option": None}
    return {
        "type": "radio_buttons",
        "selected_option": {
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": value,
        },
    }


def select(value: str | None) -> dict[str, Any]:
    if value is None:
        return {"type": "static_select", "selected_option": None}
    return {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": value, "emoji": True},
            "value": value,
        },
    }


def text(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def datepicker(value: str | None) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": value}


def user(value: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": value}


def state(**inputs: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{block_id: {action_id: element state}} keyed by the ModalBlock/ModalAction member names."""
    return {ModalBlock[name]: {ModalAction[name]: value} for name, value in inputs.items()}


# -- builders -------------------------------------------------------------------------------------


def view_dict(view: View) -> dict[str, Any]:
    data = view.to_dict()  # runs the validators
    again = View(**data)
    again.validate_json()
    assert again.to_dict() == data
    assert data["type"] == "modal"
    assert 1 <= len(data["title"]["text"]) <= 24
    assert len(data["submit"]["text"]) <= 24 and len(data["close"]["text"]) <= 24
    assert len(data["private_metadata"]) <= 3000
    assert_within_limits(data["blocks"], max_blocks=100)
    for node in walk(data["blocks"]):
        if node.get("type") == "static_select":
            assert 0 < len(node["options"]) <= 100
            for option in node["options"]:
                assert len(option["text"]["text"]) <= 75 and len(option["value"]) <= 150
        if node.get("type") == "radio_buttons":
            assert len(node["options"]) <= 10
    return data


def block(data: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in data["blocks"] if b.get("block_id") == block_id)


def options(element: dict[str, Any]) -> list[str]:
    return [o["value"] for o in element["options"]]


def test_private_metadata_round_trip() -> None:
    assert read_metadata(private_metadata(42)) == {"case_id": 42}
    meta = private_metadata(42, channel="C123", ts="1714999999.000100")
    assert read_metadata(meta) == {"case_id": 42, "channel": "C123", "ts": "1714999999.000100"}
    for bad in ("", "not json", "[]", '{"case_id": "42"}', "{}"):
        with pytest.raises(ValueError):
            read_metadata(bad)


def test_log_contact_modal() -> None:
    data = view_dict(log_contact_modal(42, today=TODAY, channel="C1", ts="1.2"))
    assert data["callback_id"] == ModalCallback.LOG_CONTACT
    assert read_metadata(data["private_metadata"]) == {"case_id": 42, "channel": "C1", "ts": "1.2"}
    how = block(data, ModalBlock.CONTACT_HOW)
    assert how["element"]["action_id"] == ModalAction.CONTACT_HOW
    assert options(how["element"]) == ["phone", "email", "video", "meeting"]
    outcome = block(data, ModalBlock.CONTACT_OUTCOME)["element"]
    assert options(outcome) == ["reached", "voicemail", "no_answer"]
    notes = block(data, ModalBlock.CONTACT_NOTES)
    assert notes["optional"] is True and notes["element"]["multiline"] is True
    follow = block(data, ModalBlock.NEXT_FOLLOW_UP)
    assert follow["optional"] is True and follow["element"]["type"] == "datepicker"
    assert "Mon 6 May 2024" in follow["hint"]["text"]


def test_root_cause_modal() -> None:
    data = view_dict(root_cause_modal(42, root_causes=CAUSES, today=TODAY))
    assert data["callback_id"] == ModalCallback.ROOT_CAUSE
    assert read_metadata(data["private_metadata"]) == {"case_id": 42}
    cause = block(data, ModalBlock.CAUSE)
    assert cause["element"]["type"] == "static_select" and cause["optional"] is False
    assert options(cause["element"]) == CAUSES
    for block_id in (ModalBlock.CAUSE_NOTES, ModalBlock.ACTION_ITEMS, ModalBlock.NEXT_FOLLOW_UP):
        assert block(data, block_id)["optional"] is True
    escalation = block(data, ModalBlock.ESCALATION)
    assert escalation["optional"] is True
    assert options(escalation["element"]) == ["none", "product", "support"]
    assert escalation["element"]["initial_option"]["value"] == "none"
    assert "single point of contact" in escalation["hint"]["text"]


def test_root_cause_menu_respects_slack_limits() -> None:
    many = [f"Cause {i} " + "x" * 200 for i in range(150)] + ["Cause 1 " + "x" * 200]
    data = view_dict(root_cause_modal(1, root_causes=many, today=TODAY))
    element = block(data, ModalBlock.CAUSE)["element"]
    assert len(element["options"]) == 100
    assert len(set(options(element))) == 100


def test_root_cause_without_configured_causes_is_free_text() -> None:
    data = view_dict(root_cause_modal(1, root_causes=[], today=TODAY))
    element = block(data, ModalBlock.CAUSE)["element"]
    assert element["type"] == "plain_text_input" and element["max_length"] == 100
    parsed = parse_root_cause(state(CAUSE=text("  Billing mix-up ")), today=TODAY)
    assert isinstance(parsed, RootCauseInput) and parsed.cause == "Billing mix-up"


def test_resolve_modal() -> None:
    data = view_dict(
        resolve_modal(
            42,
            root_causes=CAUSES,
            needs_root_cause=True,
            resurvey_default=date(2024, 8, 4),
            channel="C1",
            ts="1.2",
        )
    )
    assert data["callback_id"] == ModalCallback.RESOLVE
    assert block(data, ModalBlock.SUMMARY)["optional"] is False
    assert options(block(data, ModalBlock.SATISFIED)["element"]) == ["yes", "no"]
    assert block(data, ModalBlock.CAUSE)["optional"] is False
    resurvey = block(data, ModalBlock.RESURVEY_ON)
    assert resurvey["element"]["initial_date"] == "2024-08-04"
    without = view_dict(
        resolve_modal(
            42, root_causes=CAUSES, needs_root_cause=False, resurvey_default=date(2024, 8, 4)
        )
    )
    assert ModalBlock.CAUSE not in [b.get("block_id") for b in without["blocks"]]


def test_reassign_modal() -> None:
    data = view_dict(reassign_modal(42, current_owner="U0OWNER"))
    assert data["callback_id"] == ModalCallback.REASSIGN
    new_owner = block(data, ModalBlock.NEW_OWNER)
    assert new_owner["element"]["type"] == "users_select" and new_owner["optional"] is False
    assert "<@U0OWNER>" in block(data, ModalBlock.CURRENT_OWNER)["elements"][0]["text"]
    plain = view_dict(reassign_modal(42, current_owner="<b>x</b>@example.com"))
    assert "&lt;b&gt;" in block(plain, ModalBlock.CURRENT_OWNER)["elements"][0]["text"]
    nobody = view_dict(reassign_modal(42, current_owner=None))
    assert [b["block_id"] for b in nobody["blocks"]] == [ModalBlock.NEW_OWNER]


def test_subject_line_and_long_metadata_stay_within_limits() -> None:
    data = view_dict(
        log_contact_modal(7, today=TODAY, channel="C" * 50, ts="9" * 50, subject="s" * 5000)
    )
    assert data["blocks"][0]["block_id"] == ModalBlock.CONTEXT
    assert json.loads(data["private_metadata"])["case_id"] == 7


# -- parsers --------------------------------------------------------------------------------------


def test_parse_log_contact_valid() -> None:
    values = state(
        CONTACT_HOW=radio("phone", "Phone"),
        CONTACT_OUTCOME=radio("reached", "Reached"),
        CONTACT_NOTES=text("  Talked for 20 minutes.\nAgreed on a fix.  "),
        NEXT_FOLLOW_UP=datepicker("2024-05-09"),
    )
    assert parse_log_contact(values, today=TODAY) == LogContactInput(
        how="phone",
        outcome="reached",
        notes="Talked for 20 minutes.\nAgreed on a fix.",
        next_follow_up=date(2024, 5, 9),
    )
    minimal = state(
        CONTACT_HOW=radio("email"),
        CONTACT_OUTCOME=radio("no_answer"),
        CONTACT_NOTES=text(None),
        NEXT_FOLLOW_UP=datepicker(None),
    )
    assert parse_log_contact(minimal, today=TODAY) == LogContactInput(
        "email", "no_answer", None, None
    )
    same_day = state(
        CONTACT_HOW=radio("video"),
        CONTACT_OUTCOME=radio("voicemail"),
        NEXT_FOLLOW_UP=datepicker("2024-05-06"),
    )
    parsed = parse_log_contact(same_day, today=TODAY)
    assert isinstance(parsed, LogContactInput) and parsed.next_follow_up == TODAY


def test_parse_log_contact_errors() -> None:
    errors = parse_log_contact(
        state(
            CONTACT_HOW=radio(None),
            CONTACT_OUTCOME=radio(None),
            CONTACT_NOTES=text("x" * 3001),
            NEXT_FOLLOW_UP=datepicker("2024-05-05"),
        ),
        today=TODAY,
    )
    assert set(errors) == {
        ModalBlock.CONTACT_HOW,
        ModalBlock.CONTACT_OUTCOME,
        ModalBlock.CONTACT_NOTES,
        ModalBlock.NEXT_FOLLOW_UP,
    }
    assert all(isinstance(m, str) and m for m in errors.values())
    assert set(parse_log_contact({}, today=TODAY)) == {
        ModalBlock.CONTACT_HOW,
        ModalBlock.CONTACT_OUTCOME,
    }
    forged = state(CONTACT_HOW=radio("carrier pigeon"), CONTACT_OUTCOME=radio("reached"))
    assert set(parse_log_contact(forged, today=TODAY)) == {ModalBlock.CONTACT_HOW}
    bad_date = state(
        CONTACT_HOW=radio("phone"),
        CONTACT_OUTCOME=radio("reached"),
        NEXT_FOLLOW_UP=datepicker("05/09"),
    )
    assert set(parse_log_contact(bad_date, today=TODAY)) == {ModalBlock.NEXT_FOLLOW_UP}
    far = state(
        CONTACT_HOW=radio("phone"),
        CONTACT_OUTCOME=radio("reached"),
        NEXT_FOLLOW_UP=datepicker("2026-01-01"),
    )
    assert set(parse_log_contact(far, today=TODAY)) == {ModalBlock.NEXT_FOLLOW_UP}


def test_parse_root_cause_valid() -> None:
    values = state(
        CAUSE=select("Onboarding"),
        CAUSE_NOTES=text("Never got training"),
        ACTION_ITEMS=text("Two sessions by Friday"),
        NEXT_FOLLOW_UP=datepicker("2024-05-10"),
        ESCALATION=radio("product"),
    )
    assert parse_root_cause(values, today=TODAY, root_causes=CAUSES) == RootCauseInput(
        cause="Onboarding",
        notes="Never got training",
        action_items="Two sessions by Friday",
        next_follow_up=date(2024, 5, 10),
        escalation="product",
    )
    for choice, expected in (("none", None), (None, None), ("support", "support")):
        values = state(CAUSE=select("Pricing"), ESCALATION=radio(choice))
        parsed = parse_root_cause(values, today=TODAY)
        assert isinstance(parsed, RootCauseInput) and parsed.escalation == expected
        assert parsed.notes is None and parsed.action_items is None


def test_parse_root_cause_errors() -> None:
    errors = parse_root_cause(
        state(
            CAUSE=select(None),
            CAUSE_NOTES=text("n" * 3001),
            ACTION_ITEMS=text("a" * 3001),
            NEXT_FOLLOW_UP=datepicker("2024-01-01"),
            ESCALATION=radio("legal"),
        ),
        today=TODAY,
    )
    assert set(errors) == {
        ModalBlock.CAUSE,
        ModalBlock.CAUSE_NOTES,
        ModalBlock.ACTION_ITEMS,
        ModalBlock.NEXT_FOLLOW_UP,
        ModalBlock.ESCALATION,
    }
    unknown = parse_root_cause(state(CAUSE=select("Aliens")), today=TODAY, root_causes=CAUSES)
    assert set(unknown) == {ModalBlock.CAUSE}
    too_long = parse_root_cause(state(CAUSE=text("c" * 101)), today=TODAY)
    assert set(too_long) == {ModalBlock.CAUSE}


def test_parse_resolve_valid() -> None:
    values = state(
        SUMMARY=text(" Fixed the export; credited a month. "),
        SATISFIED=radio("yes", "Yes"),
        CAUSE=select("Product bug"),
        RESURVEY_ON=datepicker("2024-08-04"),
    )
    assert parse_resolve(values, today=TODAY, needs_root_cause=True) == ResolveInput(
        summary="Fixed the export; credited a month.",
        satisfied=True,
        root_cause="Product bug",
        resurvey_on=date(2024, 8, 4),
    )
    without_cause = state(
        SUMMARY=text("Explained the pricing."),
        SATISFIED=radio("no", "No"),
        RESURVEY_ON=datepicker("2024-05-07"),
    )
    parsed = parse_resolve(without_cause, today=TODAY)
    assert parsed == ResolveInput("Explained the pricing.", False, None, date(2024, 5, 7))


def test_resolve_form_accepts_its_own_default_even_when_it_is_today() -> None:
    """A short `sla.resurvey_after` proposes today; submitting the form as shown must work."""
    view = view_dict(
        resolve_modal(42, root_causes=CAUSES, needs_root_cause=False, resurvey_default=TODAY)
    )
    initial = block(view, ModalBlock.RESURVEY_ON)["element"]["initial_date"]
    values = state(
        SUMMARY=text("Called and fixed it."),
        SATISFIED=radio("yes", "Yes"),
        RESURVEY_ON=datepicker(initial),
    )
    assert parse_resolve(values, today=TODAY) == ResolveInput(
        "Called and fixed it.", True, None, TODAY
    )


def test_parse_resolve_errors() -> None:
    errors = parse_resolve(
        state(
            SUMMARY=text("   "),
            SATISFIED=radio(None),
            CAUSE=select(None),
            RESURVEY_ON=datepicker("2024-05-05"),
        ),
        today=TODAY,
    )
    assert set(errors) == {
        ModalBlock.SUMMARY,
        ModalBlock.SATISFIED,
        ModalBlock.CAUSE,
        ModalBlock.RESURVEY_ON,
    }
    assert "today or a later date" in errors[ModalBlock.RESURVEY_ON]
    long = state(
        SUMMARY=text("s" * 3001), SATISFIED=radio("yes"), RESURVEY_ON=datepicker("2024-06-01")
    )
    assert set(parse_resolve(long, today=TODAY)) == {ModalBlock.SUMMARY}
    missing = state(SUMMARY=text("ok"), SATISFIED=radio("yes"), RESURVEY_ON=datepicker(None))
    assert set(parse_resolve(missing, today=TODAY)) == {ModalBlock.RESURVEY_ON}
    needs = state(SUMMARY=text("ok"), SATISFIED=radio("yes"), RESURVEY_ON=datepicker("2024-06-01"))
    assert set(parse_resolve(needs, today=TODAY, needs_root_cause=True)) == {ModalBlock.CAUSE}


def test_parse_reassign() -> None:
    assert parse_reassign(state(NEW_OWNER=user("U0NEW")), today=TODAY) == ReassignInput("U0NEW")
    assert set(parse_reassign(state(NEW_OWNER=user(None)))) == {ModalBlock.NEW_OWNER}
    assert set(parse_reassign({})) == {ModalBlock.NEW_OWNER}
    same = parse_reassign(state(NEW_OWNER=user("U0OWNER")), current_owner="U0OWNER")
    assert set(same) == {ModalBlock.NEW_OWNER}


def test_parsers_accept_slack_generated_action_ids() -> None:
    """If an element's action id ever differs, the block's only element is still read."""
    values = {
        ModalBlock.CONTACT_HOW: {"Hx6W": radio("meeting")},
        ModalBlock.CONTACT_OUTCOME: {"7Lg5": radio("reached")},
        ModalBlock.NEXT_FOLLOW_UP: {"OVme": datepicker("2024-05-08")},
    }
    parsed = parse_log_contact(values, today=TODAY)
    assert parsed == LogContactInput("meeting", "reached", None, date(2024, 5, 8))


def test_parsers_read_a_full_view_submission_payload() -> None:
    """The state values as they arrive inside a view_submission body."""
    view = log_contact_modal(42, today=TODAY, channel="C1", ts="1.2").to_dict()
    body = {
        "type": "view_submission",
        "user": {"id": "U0OWNER"},
        "view": {
            **view,
            "id": "V0179GJD2TA",
            "state": {
                "values": {
                    "contact_how": {"contact_how_input": radio("phone", "Phone")},
                    "contact_outcome": {"contact_outcome_input": radio("voicemail", "Voicemail")},
                    "contact_notes": {"contact_notes_input": text(None)},
                    "next_follow_up": {"next_follow_up_input": datepicker(None)},
                }
            },
        },
    }
    parsed = parse_log_contact(body["view"]["state"]["values"], today=TODAY)
    assert parsed == LogContactInput("phone", "voicemail", None, None)
    assert read_metadata(body["view"]["private_metadata"])["case_id"] == 42
