"""The `[[sources]]` of the rules file: checked up front, one line per problem naming the key."""

from __future__ import annotations

import pytest

from bot.config.rules import RulesError, rules_from_mapping, rules_to_toml
from bot.config.sources import environment_problems


def sources(*tables: dict) -> dict:
    return {"sources": list(tables)}


def test_sources_read_and_write_back():
    rules = rules_from_mapping(
        sources(
            {
                "name": "typeform-nps",
                "platform": "typeform",
                "secret_env": "TF_SECRET",
                "score_field": "nps",
                "comment_field": "why",
                "account_field": "account_id",
            },
            {
                "name": "sm",
                "platform": "surveymonkey",
                "secret_env": "SM_KEYS",
                "api_token_env": "SM_TOKEN",
                "api_url": "http://127.0.0.1:9/v3",
            },
            {"name": "zapier", "platform": "native", "token_env": "ZAP_TOKEN", "test": True},
        )
    )
    assert [s.name for s in rules.sources] == ["typeform-nps", "sm", "zapier"]
    assert rules.sources[0].score_field == "nps" and rules.sources[2].test is True
    import tomllib

    assert rules_from_mapping(tomllib.loads(rules_to_toml(rules))) == rules


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        (
            {"name": "Bad Name", "platform": "typeform", "secret_env": "S"},
            "sources[0].name",
            "not a source name",
        ),
        (
            {"name": "x", "platform": "hubspot", "secret_env": "S"},
            "sources[0].platform",
            "typeform",
        ),
        (
            {"name": "x", "platform": "typeform", "token_env": "T"},
            "sources[0].secret_env",
            "typeform signs",
        ),
        ({"name": "x", "platform": "formbricks"}, "sources[0].secret_env", "token_env"),
        (
            {"name": "x", "platform": "qualtrics", "secret_env": "K"},
            "sources[0].api_token_env",
            "ids only",
        ),
        (
            {"name": "x", "platform": "native", "token_env": "not valid"},
            "sources[0].token_env",
            "environment variable",
        ),
        (
            {"name": "x", "platform": "native", "secret_env": "S", "colour": "red"},
            "sources[0].colour",
            "unknown key",
        ),
    ],
)
def test_a_bad_source_is_named_by_its_key(table, key, reason):
    with pytest.raises(RulesError) as caught:
        rules_from_mapping(sources(table))
    assert caught.value.key == key and reason in caught.value.reason


def test_duplicate_names_and_every_problem_are_reported():
    with pytest.raises(RulesError) as caught:
        rules_from_mapping(
            sources(
                {"name": "a", "platform": "native", "secret_env": "S"},
                {"name": "a", "platform": "formbricks"},
            )
        )
    assert [k for k, _ in caught.value.problems] == ["sources[1].name", "sources[1].secret_env"]


def test_unset_variables_are_named_never_their_values():
    rules = rules_from_mapping(
        sources(
            {
                "name": "sm",
                "platform": "surveymonkey",
                "secret_env": "SM_KEYS",
                "api_token_env": "SM_TOKEN",
            },
            {"name": "fb", "platform": "formbricks", "token_env": "FB_TOKEN"},
        )
    )
    found = environment_problems(rules.sources, {"SM_KEYS": "id&secret", "FB_TOKEN": "  "})
    assert found == [
        ("sources[0].api_token_env", "the environment variable SM_TOKEN is not set"),
        ("sources[1].token_env", "the environment variable FB_TOKEN is not set"),
    ]
