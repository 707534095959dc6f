"""The account directory, the touchpoint feed and the read-back queue, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from storage import inbound
from storage.accounts import AccountRecord, account_domains, load_directory, match_emails
from storage.models import Account, Customer
from storage.touchpoints import TouchpointRecord, latest_before, merge_latest, record_touchpoints

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def accounts(engine: sa.Engine) -> dict[str, tuple]:
    table = Account.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.name, table.c.arr, table.c.owner))
        return {r.id: (r.name, r.arr, r.owner) for r in rows}


def test_directory_loads_idempotently_and_replaces_domains(engine):
    records = [
        AccountRecord("a-1", "Acme", 120_000, "Pro", date(2027, 3, 1), "U0ALICE", ("acme.com",)),
        AccountRecord("a-2", "Globex", None, None, None, "bob@example.com", ("globex.io", "gx.io")),
    ]
    first = load_directory(engine, records, now=NOW)
    assert (first.read, first.created, first.updated) == (2, 2, 0)
    again = load_directory(engine, records, now=NOW + timedelta(hours=1))
    assert (again.created, again.updated) == (0, 2)
    assert accounts(engine) == {
        "a-1": ("Acme", 120_000, "U0ALICE"),
        "a-2": ("Globex", None, "bob@example.com"),
    }
    # A later export without ARR keeps the stored ARR; its domains replace the old ones.
    load_directory(engine, [AccountRecord("a-1", "Acme A/S", None, domains=("acme.dk",))], now=NOW)
    assert accounts(engine)["a-1"] == ("Acme A/S", 120_000, "U0ALICE")
    assert account_domains(engine, "a-1") == ["acme.dk"]
    assert account_domains(engine, "a-2") == ["globex.io", "gx.io"]


def test_a_domain_moves_to_the_account_that_claims_it_last(engine):
    load_directory(engine, [AccountRecord("a-1", "Old", domains=("shared.com",))], now=NOW)
    load_directory(engine, [AccountRecord("a-2", "New", domains=("shared.com",))], now=NOW)
    assert account_domains(engine, "a-1") == []
    assert account_domains(engine, "a-2") == ["shared.com"]


def test_an_email_matches_a_known_customer_before_a_domain(engine):
    load_directory(
        engine,
        [
            AccountRecord("a-1", "Acme", domains=("acme.com",)),
            AccountRecord("a-2", "Partner", domains=("partner.com",)),
        ],
        now=NOW,
    )
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Customer.__table__).values(
                id="c-9",
                account_id="a-2",
                name="Dana",
                email="Dana@Acme.com",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with engine.connect() as conn:
        found = match_emails(
            conn, ["dana@acme.com", "LEE@acme.com", "x@nowhere.org", "not-an-email"]
        )
    assert found["dana@acme.com"].account_id == "a-2"  # the customer's account wins
    assert found["dana@acme.com"].customer_id == "c-9"
    assert (found["lee@acme.com"].account_id, found["lee@acme.com"].how) == ("a-1", "domain")
    assert "x@nowhere.org" not in found and "not-an-email" not in found


def test_touchpoints_dedupe_and_the_latest_come_first(engine):
    feed = [
        TouchpointRecord(NOW - timedelta(days=d), kind, f"event {d}", account_id="a-1")
        for d, kind in ((1, "billing"), (3, "support"), (9, "onboarding"), (20, "login"))
    ]
    feed.append(TouchpointRecord(NOW - timedelta(days=2), "support", "mail", email="Dana@A.com"))
    feed.append(TouchpointRecord(NOW + timedelta(days=1), "billing", "after the answer", "a-1"))
    assert record_touchpoints(engine, feed, now=NOW) == 6
    assert record_touchpoints(engine, feed, now=NOW) == 0
    with engine.connect() as conn:
        latest = latest_before(conn, account_id="a-1", email="dana@a.com", before=NOW)
    assert [t["kind"] for t in latest] == ["billing", "support", "support"]
    assert [t["summary"] for t in latest] == ["event 1", "mail", "event 3"]


def test_merging_payload_and_feed_touchpoints_keeps_the_newest_once():
    payload = [{"at": "2026-11-19T10:00:00+00:00", "kind": "billing", "summary": "disputed"}]
    feed = [
        {"at": "2026-11-19T10:00:00Z", "kind": "billing", "summary": "disputed"},
        {"at": "2026-11-18T10:00:00+00:00", "kind": "support", "summary": "ticket"},
        {"at": "2026-11-01T10:00:00+00:00", "kind": "login", "summary": ""},
        {"at": "2026-10-01T10:00:00+00:00", "kind": "onboarding", "summary": ""},
    ]
    merged = merge_latest(payload, feed)
    assert [t["kind"] for t in merged] == ["billing", "support", "login"]


def test_the_read_back_queue_leases_retries_and_reports(engine):
    ref = {"survey_id": "s-1", "response_id": "r-1"}
    assert inbound.enqueue(engine, source="sm", external_id="r-1", ref=ref, now=NOW)
    assert not inbound.enqueue(engine, source="sm", external_id="r-1", ref=ref, now=NOW)
    assert inbound.enqueue(engine, source="sm", external_id="r-2", ref=ref, now=NOW)
    [first, second] = inbound.claim_due(engine, now=NOW)
    assert (first.external_id, first.attempts, first.ref) == ("r-1", 1, ref)
    assert inbound.claim_due(engine, now=NOW + timedelta(seconds=1)) == []  # leased
    inbound.retry(engine, first.id, at=NOW + timedelta(seconds=5), error="503 unavailable")
    inbound.fail(engine, second.id, error="token rejected", now=NOW)
    state = inbound.queue_state(engine, now=NOW + timedelta(seconds=30))["sm"]
    assert (state.pending, state.failing, state.failed) == (1, 1, 1)
    assert state.oldest_pending_seconds == 30
    [again] = inbound.claim_due(engine, now=NOW + timedelta(seconds=6))
    assert (again.id, again.attempts) == (first.id, 2)
    inbound.done(engine, again.id, now=NOW)
    assert inbound.retry_failed(engine, source="sm", now=NOW) == 1
    assert inbound.queue_state(engine, now=NOW)["sm"].pending == 1
