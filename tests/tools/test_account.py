"""Account: the verified customer's profile, and changing their default address."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tools.helpers import as_customer, audit, customer_with_orders, snapshot
from tools.account import get_user_details, modify_user_address
from tools.context import ToolContext
from tools.errors import (
    ConfirmationRequiredError,
    InvalidArgumentError,
    NotAuthenticatedError,
    NotOwnerError,
)
from tools.store import Store

NOAH = "noah_brown_6181"


def _address(user_id: str = NOAH, **changes: str) -> dict[str, Any]:
    args = {
        "user_id": user_id,
        "address1": "12 Canal Street",
        "address2": "Unit 4",
        "city": "Boston",
        "state": "MA",
        "country": "USA",
        "zip": "02110",
    }
    return args | changes


def test_get_user_details(tau2_store: Store) -> None:
    details = get_user_details(as_customer(tau2_store, NOAH), NOAH)

    assert details["user_id"] == NOAH
    assert details["email"] == "noah.brown7922@example.com"
    assert details["address"]["city"] == "Denver"
    assert sorted(details["payment_methods"]) == ["credit_card_7815826", "paypal_5727330"]
    assert details["orders"] == ["#W7678072"]


def test_another_customers_profile_is_refused(tau2_store: Store) -> None:
    other = customer_with_orders(tau2_store, "delivered")

    with pytest.raises(NotOwnerError) as caught:
        get_user_details(as_customer(tau2_store, NOAH), other)

    assert other not in caught.value.message


def test_profile_needs_authentication(tau2_store: Store) -> None:
    with pytest.raises(NotAuthenticatedError):
        get_user_details(ToolContext(tau2_store), NOAH)


def test_modify_address(tau2_store: Store) -> None:
    args = _address(address1="  12 Canal Street ")
    ctx = as_customer(tau2_store, NOAH, actor="shell").confirm("modify_user_address", args)

    result = modify_user_address(ctx, **args)

    expected = {k: v for k, v in _address().items() if k != "user_id"}
    assert result["address"] == expected
    assert get_user_details(ctx, NOAH)["address"] == expected
    [entry] = audit(tau2_store)
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "shell",
        "modify_user_address",
        NOAH,
    )


def test_unconfirmed_address_change_changes_nothing(tau2_store: Store) -> None:
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        modify_user_address(as_customer(tau2_store, NOAH), **_address())

    assert snapshot(tau2_store) == before


def test_confirmation_covers_only_the_confirmed_address(tau2_store: Store) -> None:
    ctx = as_customer(tau2_store, NOAH).confirm("modify_user_address", _address())
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        modify_user_address(ctx, **_address(zip="02111"))

    assert snapshot(tau2_store) == before


@pytest.mark.parametrize("missing", ["address1", "city", "state", "country", "zip"])
def test_address_with_a_missing_line_is_refused_before_confirmation(
    tau2_store: Store, missing: str
) -> None:
    args = _address(**{missing: " "})
    before = snapshot(tau2_store)

    # Unconfirmed: the incomplete address is refused before the customer is asked to confirm it.
    with pytest.raises(InvalidArgumentError, match=missing):
        modify_user_address(as_customer(tau2_store, NOAH), **args)

    assert snapshot(tau2_store) == before


def test_address2_may_be_blank(tau2_store: Store) -> None:
    args = _address(address2="")
    ctx = as_customer(tau2_store, NOAH).confirm("modify_user_address", args)

    assert modify_user_address(ctx, **args)["address"]["address2"] == ""


def test_another_customers_address_cannot_be_changed(tau2_store: Store) -> None:
    other = customer_with_orders(tau2_store, "delivered")
    args = _address(user_id=other)
    ctx = as_customer(tau2_store, NOAH).confirm("modify_user_address", args)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError):
        modify_user_address(ctx, **args)

    assert snapshot(tau2_store) == before


def test_address_change_needs_authentication(tau2_store: Store) -> None:
    args = _address()
    ctx = ToolContext(tau2_store).confirm("modify_user_address", args)

    with pytest.raises(NotAuthenticatedError):
        modify_user_address(ctx, **args)


def test_confirmed_address_change_retried_applies_once(tau2_store: Store) -> None:
    args = _address()
    ctx = as_customer(tau2_store, NOAH).confirm("modify_user_address", args)

    first = modify_user_address(ctx, **args)
    second = modify_user_address(ctx, **args)

    assert first == second
    assert len(audit(tau2_store)) == 1


def test_changing_back_to_an_earlier_address_in_a_later_conversation(tau2_store: Store) -> None:
    home, office = _address(), _address(address1="1 Office Park")

    for conversation, args in (("c1", home), ("c2", office), ("c3", home)):
        ctx = as_customer(tau2_store, NOAH, conversation_id=conversation)
        modify_user_address(ctx.confirm("modify_user_address", args), **args)

    now = get_user_details(as_customer(tau2_store, NOAH), NOAH)["address"]
    assert now["address1"] == home["address1"]
