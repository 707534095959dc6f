"""The survey platforms' shared pieces: the registry, normalising values, and fetch failures."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bot.services.sources import (
    PLATFORMS,
    BadShape,
    FetchFailed,
    FetchRef,
    FieldError,
    FieldMap,
    Unauthorized,
)
from bot.services.sources._fetch import get_json, retry_after
from bot.services.sources._normal import MAX_COMMENT, MAX_PROPERTIES, Shape, properties

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_registry_holds_the_five_platforms_under_their_own_names():
    assert set(PLATFORMS) == {"typeform", "delighted", "formbricks", "surveymonkey", "qualtrics"}
    assert all(platform.name == key for key, platform in PLATFORMS.items())
    assert {k for k, p in PLATFORMS.items() if p.id_only} == {"surveymonkey", "qualtrics"}


@pytest.mark.parametrize("name", ["typeform", "delighted", "formbricks"])
def test_push_platforms_have_nothing_to_fetch(name):
    ref = FetchRef(name, "r1", "s1")
    with httpx.Client() as client, pytest.raises(FetchFailed) as failed:
        PLATFORMS[name].fetch(
            ref, client=client, api_url="http://x", api_token="t", fields=FieldMap()
        )
    assert failed.value.permanent


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_source_with_neither_secret_nor_token_is_refused(name):
    with pytest.raises(Unauthorized, match="neither"):
        PLATFORMS[name].verify(body=b"{}", headers={}, secret=None, token=None, now=NOW)


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_token_source_takes_only_its_bearer_token(name):
    platform = PLATFORMS[name]
    platform.verify(
        body=b"{}", headers={"Authorization": "Bearer tok-1"}, secret=None, token="tok-1", now=NOW
    )
    for value in ("Bearer tok-2", "Basic tok-1", "tok-1", "Bearer "):
        with pytest.raises(Unauthorized, match="Authorization") as refused:
            platform.verify(
                body=b"{}", headers={"authorization": value}, secret=None, token="tok-1", now=NOW
            )
        assert "tok-" not in refused.value.reason


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_source_with_a_secret_does_not_accept_the_token_instead(name):
    with pytest.raises(Unauthorized):
        PLATFORMS[name].verify(
            body=b"{}",
            headers={"authorization": "Bearer tok-1"},
            secret="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
            token="tok-1",
            now=NOW,
        )


@pytest.mark.parametrize(
    ("value", "expected"), [(7, 7), ("7", 7), (" 10 ", 10), (0, 0), (9.0, 9), (None, None)]
)
def test_scores_are_whole_numbers_from_0_to_10(value, expected):
    shape = Shape()
    assert shape.score(value, "s") == expected
    assert shape.errors == []


@pytest.mark.parametrize("value", [11, -1, "11", "seven", 7.5, True, [7], {"n": 7}])
def test_anything_else_is_a_bad_score_named_by_path(value):
    shape = Shape()
    assert shape.score(value, "event_data.score") is None
    assert [e.field for e in shape.errors] == ["event_data.score"]


def test_comments_lose_nul_characters_and_are_capped():
    shape = Shape()
    assert shape.comment("slow\x00 exports", "c") == "slow exports"
    long = shape.comment("x" * (MAX_COMMENT + 500), "c")
    assert long is not None and len(long) == MAX_COMMENT
    assert shape.comment("  \n ", "c") is None
    assert shape.comment(42, "c") is None
    assert [e.field for e in shape.errors] == ["c"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-01-18T18:17:02Z", datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)),
        ("2018-01-18T20:17:02+02:00", datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)),
        ("2019-06-25 07:58:25", datetime(2019, 6, 25, 7, 58, 25, tzinfo=UTC)),
        (1537474818, datetime(2018, 9, 20, 20, 20, 18, tzinfo=UTC)),
    ],
)
def test_times_become_aware_utc(value, expected):
    shape = Shape()
    moment = shape.when(value, "t")
    assert moment == expected and moment.utcoffset().total_seconds() == 0
    assert shape.errors == []


@pytest.mark.parametrize(
    "value", ["1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z", 1537474818000, "yesterday", True]
)
def test_times_out_of_range_or_unreadable_are_bad(value):
    shape = Shape()
    assert shape.when(value, "form_response.submitted_at") is None
    assert [e.field for e in shape.errors] == ["form_response.submitted_at"]


def test_properties_keep_scalars_as_strings_and_are_bounded():
    got = properties({"plan": "pro", "seats": 25, "trial": False, "tags": ["a"], "x": None})
    assert got == {"plan": "pro", "seats": "25", "trial": "false"}
    assert properties({"a": "first"}, {"a": "second", "b": "b"}) == {"a": "first", "b": "b"}
    assert len(properties({f"k{i}": "v" for i in range(500)})) == MAX_PROPERTIES


def test_bad_shape_names_fields_but_not_values():
    error = BadShape([FieldError("event_data.score", "must be a whole number from 0 to 10")])
    assert "event_data.score" in str(error)
    assert error.fields[0].field == "event_data.score"


def _client(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None):
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or {})

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (401, True),
        (403, True),
        (400, True),
        (410, True),
        (404, False),
        (408, False),
        (500, False),
        (502, False),
        (503, False),
        (429, False),
    ],
)
def test_error_statuses_sort_into_retry_or_give_up(status, permanent):
    with _client(status) as client, pytest.raises(FetchFailed) as failed:
        get_json(client, "http://api.test/x", headers={"X-API-TOKEN": "s3cret"}, platform="P")
    assert failed.value.permanent is permanent
    assert str(status) in failed.value.reason and "s3cret" not in failed.value.reason


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_2xx_that_is_not_a_json_object_is_permanent(body):
    with _client(200, body) as client, pytest.raises(FetchFailed) as failed:
        get_json(client, "http://api.test/x", headers={}, platform="P")
    assert failed.value.permanent


def test_an_api_url_that_is_not_http_is_permanent():
    with httpx.Client() as client, pytest.raises(FetchFailed) as failed:
        get_json(client, "ftp://api.test/x", headers={}, platform="P")
    assert failed.value.permanent


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "17"}, 17.0),
        ({"Retry-After": "-3"}, 0.0),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
            30.0,
        ),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "inf"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_or_a_date_against_the_answers_date(headers, expected):
    assert retry_after(httpx.Response(429, headers=headers)) == expected
