"""The role table: every action by every role, allowed or not."""

from __future__ import annotations

import pytest

from publisher.services import accounts
from publisher.web.deps import require_role

# role -> what it may do; every other action is refused.
EXPECTED = {
    "officer": {"draft", "submit"},
    "editor": {"draft", "submit", "approve", "schedule", "publish", "cancel", "retry", "resume"},
    "admin": {
        "draft",
        "submit",
        "approve",
        "schedule",
        "publish",
        "cancel",
        "retry",
        "resume",
        "users",
        "tokens",
        "recipients",
    },
}
ACTIONS = sorted(EXPECTED["admin"])


@pytest.mark.parametrize("role", accounts.ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_role_may_do_exactly_its_actions(role: str, action: str) -> None:
    assert accounts.allowed(role, action) is (action in EXPECTED[role])


def test_the_table_names_every_action_and_role() -> None:
    assert set(accounts.ROLES) == set(EXPECTED) and accounts.ALL_ACTIONS == set(ACTIONS)
    assert EXPECTED["officer"] < EXPECTED["editor"] < EXPECTED["admin"]


@pytest.mark.parametrize("role", ["", "Admin", "superuser", "root"])
def test_an_unknown_role_may_do_nothing(role: str) -> None:
    assert not any(accounts.allowed(role, action) for action in ACTIONS)


def test_an_unknown_action_is_a_mistake_found_when_a_route_is_declared() -> None:
    with pytest.raises(ValueError, match="unknown action 'publsh'"):
        accounts.allowed("admin", "publsh")
    with pytest.raises(ValueError, match="unknown action"):
        require_role("delete-everything")
    assert require_role("publish") is not None
