"""Who may do what to a case."""

from __future__ import annotations

import pytest

from bot.domain.permissions import Act, CaseRoles, may, refusal

ROLES = CaseRoles(
    owner="U0OWNER",
    claimed_by="U0CLAIMER",
    manager="U0MANAGER",
    cx_lead="U0CX",
    vp="U0VP",
    listed_owners=frozenset({"U0LISTED", "U0OWNER"}),
)


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("U0OWNER", True),
        ("U0MANAGER", True),
        ("U0CX", True),
        ("U0VP", True),
        ("U0LISTED", True),
        ("U0CLAIMER", True),
        ("U0STRANGER", False),
    ],
)
@pytest.mark.parametrize("act", [Act.CLAIM, Act.LOG_CONTACT, Act.ROOT_CAUSE])
def test_working_a_case(act, actor, expected):
    assert may(act, actor, ROLES) is expected


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("U0OWNER", True),
        ("U0MANAGER", True),
        ("U0CX", True),
        ("U0VP", True),
        ("U0LISTED", False),
        ("U0CLAIMER", False),
        ("U0STRANGER", False),
    ],
)
@pytest.mark.parametrize("act", [Act.RESOLVE, Act.REASSIGN, Act.DONE])
def test_closing_or_moving_a_case(act, actor, expected):
    assert may(act, actor, ROLES) is expected


def test_unknown_roles_grant_nothing():
    nobody = CaseRoles(None, None, None, None, None, frozenset())
    assert not may(Act.RESOLVE, "U0ANY", nobody)
    assert not may(Act.CLAIM, "U0ANY", nobody)


@pytest.mark.parametrize("act", list(Act))
def test_every_refusal_explains_itself(act):
    assert refusal(act).startswith("Only ")
