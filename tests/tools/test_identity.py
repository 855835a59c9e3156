"""Identity: finding the customer by email or by name and zip, before anything else is allowed."""

from __future__ import annotations

import pytest

from tests.tools.helpers import customer_with_orders
from tools.context import ToolContext
from tools.errors import CustomerNotFoundError, InvalidArgumentError
from tools.identity import find_user_id_by_email, find_user_id_by_name_zip
from tools.models import Customer
from tools.registry import invoke
from tools.store import Store


def _customer(store: Store) -> Customer:
    with store.read() as s:
        customer = s.get_one(Customer, customer_with_orders(store, "pending"))
        s.expunge(customer)
        return customer


def test_find_by_email(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)

    assert find_user_id_by_email(ctx, "noah.brown7922@example.com") == "noah_brown_6181"


def test_find_by_email_ignores_case_and_blanks(tau2_store: Store) -> None:
    customer = _customer(tau2_store)

    found = find_user_id_by_email(ToolContext(tau2_store), f"  {customer.email.upper()} ")

    assert found == customer.id


def test_unknown_email_is_not_found(tau2_store: Store) -> None:
    with pytest.raises(CustomerNotFoundError):
        find_user_id_by_email(ToolContext(tau2_store), "noah.brown7923@example.com")


def test_text_that_is_not_an_email_is_refused(tau2_store: Store) -> None:
    with pytest.raises(InvalidArgumentError):
        find_user_id_by_email(ToolContext(tau2_store), "noah_brown_6181")


def test_find_by_name_and_zip(tau2_store: Store) -> None:
    customer = _customer(tau2_store)

    found = find_user_id_by_name_zip(
        ToolContext(tau2_store),
        customer.first_name.lower(),
        f" {customer.last_name.upper()} ",
        customer.zip,
    )

    assert found == customer.id


def test_name_with_another_zip_is_not_found(tau2_store: Store) -> None:
    customer = _customer(tau2_store)
    other_zip = f"{(int(customer.zip) + 1) % 100000:05d}"

    with pytest.raises(CustomerNotFoundError):
        find_user_id_by_name_zip(
            ToolContext(tau2_store), customer.first_name, customer.last_name, other_zip
        )


@pytest.mark.parametrize("blank", ["first_name", "last_name", "zip"])
def test_name_and_zip_are_all_required(tau2_store: Store, blank: str) -> None:
    args = {"first_name": "Noah", "last_name": "Brown", "zip": "80279"}
    args[blank] = "  "

    with pytest.raises(InvalidArgumentError):
        find_user_id_by_name_zip(ToolContext(tau2_store), **args)


def test_lookup_reaches_the_model_as_text(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)

    found = invoke(ctx, "find_user_id_by_email", {"email": "noah.brown7922@example.com"})
    missing = invoke(ctx, "find_user_id_by_email", {"email": "nobody@example.com"})

    assert found.ok and found.text == "noah_brown_6181"
    assert not missing.ok
    assert missing.text == "Error: No customer was found with that email."
