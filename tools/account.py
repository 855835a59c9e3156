"""Account: the verified customer's profile and default address."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tools.context import ToolContext
from tools.errors import CustomerNotFoundError, InvalidArgumentError
from tools.guard import owned_customer, require_self, run_write
from tools.models import Customer
from tools.registry import register
from tools.views import customer_view


def clean_address(
    address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> dict[str, str]:
    """An address with surrounding blanks removed; every line but ``address2`` is required."""
    fields = {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }
    cleaned = {k: (v or "").strip() for k, v in fields.items()}
    missing = [k for k, v in cleaned.items() if not v and k != "address2"]
    if missing:
        raise InvalidArgumentError(f"The address is missing: {', '.join(missing)}.")
    return cleaned


@register("read", "account")
def get_user_details(ctx: ToolContext, user_id: str) -> dict[str, Any]:
    """Get the details of the verified customer: profile, payment methods and order ids.

    Args:
        user_id: The user id, such as 'sara_doe_496'.
    """
    require_self(ctx, user_id)
    with ctx.store.read() as s:
        customer = s.get(Customer, user_id)
        if customer is None:
            raise CustomerNotFoundError(f"Customer {user_id} was not found.")
        return customer_view(customer)


@register("write", "account")
def modify_user_address(
    ctx: ToolContext,
    user_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Modify the default address of the verified customer. Needs the customer's explicit confirmation.

    Args:
        user_id: The user id, such as 'sara_doe_496'.
        address1: The first line of the address, such as '123 Main St'.
        address2: The second line of the address, such as 'Apt 1' or ''.
        city: The city, such as 'San Francisco'.
        state: The state, such as 'CA'.
        country: The country, such as 'USA'.
        zip: The zip code, such as '12345'.
    """
    require_self(ctx, user_id)
    args = {
        "user_id": user_id,
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }

    def validate(_: Session, customer: Customer) -> dict[str, str]:
        return clean_address(address1, address2, city, state, country, zip)

    def apply(_: Session, customer: Customer, address: dict[str, str]) -> dict[str, Any]:
        for key, value in address.items():
            setattr(customer, key, value)
        return customer_view(customer)

    return run_write(
        ctx,
        "modify_user_address",
        args,
        lock=lambda s: owned_customer(s, ctx, lock=True),
        validate=validate,
        apply=apply,
        target=user_id,
    )


ALL_TOOLS = [get_user_details, modify_user_address]
