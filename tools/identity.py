"""Identity: find the customer by email, by name + zip (the tau2 policy's authentication step), or by
user id + zip.

A successful lookup is what lets the conversation treat the customer as verified; the caller then derives
``ctx.authenticated(user_id)``.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tools.context import ToolContext
from tools.errors import CustomerNotFoundError, InvalidArgumentError
from tools.models import Customer
from tools.registry import register


@register("read", "identity")
def find_user_id_by_email(ctx: ToolContext, email: str) -> str:
    """Find user id by email. Returns the user id, or an error if no customer has that email.

    Args:
        email: The email of the user, such as 'something@example.com'.
    """
    cleaned = email.strip().lower()
    if "@" not in cleaned:
        raise InvalidArgumentError(f"'{email}' is not an email address.")
    with ctx.store.read() as s:
        user_id = s.scalars(
            select(Customer.id).where(func.lower(Customer.email) == cleaned)
        ).first()
    if user_id is None:
        raise CustomerNotFoundError("No customer was found with that email.")
    return user_id


@register("read", "identity")
def find_user_id_by_name_zip(ctx: ToolContext, first_name: str, last_name: str, zip: str) -> str:
    """Find user id by first name, last name, and zip code. Use it when the customer cannot give an email.

    Args:
        first_name: The first name of the customer, such as 'John'.
        last_name: The last name of the customer, such as 'Doe'.
        zip: The zip code of the customer, such as '12345'.
    """
    first, last, code = first_name.strip().lower(), last_name.strip().lower(), zip.strip()
    if not (first and last and code):
        raise InvalidArgumentError("First name, last name and zip code are all required.")
    with ctx.store.read() as s:
        user_id = s.scalars(
            select(Customer.id).where(
                func.lower(Customer.first_name) == first,
                func.lower(Customer.last_name) == last,
                Customer.zip == code,
            )
        ).first()
    if user_id is None:
        raise CustomerNotFoundError("No customer was found with that name and zip code.")
    return user_id


@register("read", "identity")
def find_user_id_by_user_id_zip(ctx: ToolContext, user_id: str, zip: str) -> str:
    """Verify a customer who gives their user id together with their zip code. Returns the user id,
    or an error if no customer has that user id with that zip code (which one is wrong is not said).

    Args:
        user_id: The user id the customer gave, such as 'sara_doe_496'.
        zip: The zip code of the customer, such as '12345'.
    """
    uid, code = user_id.strip().lower(), zip.strip()
    if not (uid and code):
        raise InvalidArgumentError("Both the user id and the zip code are required.")
    with ctx.store.read() as s:
        found = s.scalars(
            select(Customer.id).where(func.lower(Customer.id) == uid, Customer.zip == code)
        ).first()
    if found is None:
        raise CustomerNotFoundError("No customer was found with that user id and zip code.")
    return found


ALL_TOOLS = [find_user_id_by_email, find_user_id_by_name_zip, find_user_id_by_user_id_zip]
