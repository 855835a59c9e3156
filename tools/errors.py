"""Typed errors raised by the store and the tools.

    ToolError
    ├── InvalidArgumentError        malformed input (an id, an expression, an empty list)
    ├── NotFoundError               nothing with that id
    │   ├── CustomerNotFoundError
    │   ├── OrderNotFoundError
    │   ├── ProductNotFoundError
    │   ├── TicketNotFoundError
    │   ├── ItemNotFoundError
    │   └── PaymentMethodNotFoundError
    ├── AuthorizationError          the conversation's identity may not do this
    │   ├── NotAuthenticatedError   no verified customer yet
    │   └── NotOwnerError           the record belongs to someone else (reads like "not found")
    ├── ConfirmationRequiredError   a write without the customer's explicit confirmation of it
    ├── ApprovalRequiredError       a confirmed write moving more money than the shop lets through
    │                               without a staff member's approval
    ├── TicketStateError            a ticket's status forbids the staff action (claimed, resolved)
    └── PolicyViolation             the shop's rules forbid it
        ├── OrderStatusError        wrong order status for the action
        ├── ReturnWindowError       delivered too long ago to return or exchange
        ├── InvalidReasonError      a cancellation reason the policy does not accept
        ├── ItemMismatchError       items not in the order, wrong product, or counts differ
        ├── ItemUnavailableError    the requested variant is not available
        ├── PaymentMethodError      a refund or payment target the policy does not allow
        └── InsufficientBalanceError  a gift card cannot cover the amount

Each error carries a short message written for the model and the customer; ``model_message`` is the one
place that turns an exception into the text a tool call returns.
"""

from __future__ import annotations


class ToolError(Exception):
    """Base class: anything a tool refuses to do, with a message safe to show the customer."""

    code = "tool_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(ToolError):
    code = "invalid_argument"


class NotFoundError(ToolError):
    code = "not_found"


class CustomerNotFoundError(NotFoundError):
    pass


class OrderNotFoundError(NotFoundError):
    pass


class ProductNotFoundError(NotFoundError):
    pass


class TicketNotFoundError(NotFoundError):
    pass


class ItemNotFoundError(NotFoundError):
    pass


class PaymentMethodNotFoundError(NotFoundError):
    pass


class AuthorizationError(ToolError):
    code = "unauthorized"


class NotAuthenticatedError(AuthorizationError):
    code = "not_authenticated"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "The customer is not authenticated yet: verify them by email, or by name and zip code."
        )


class NotOwnerError(AuthorizationError):
    """The record exists but belongs to another customer. The message deliberately reads like a
    not-found, so a customer cannot probe which order ids exist."""

    code = "not_owner"


class ConfirmationRequiredError(ToolError):
    """The write is allowed but not yet confirmed. It carries what the tool's own validation found:
    the money the write moves and whether a staff member must also approve it, so a caller never
    works either out for itself."""

    code = "confirmation_required"

    def __init__(self, action: str, *, amount_cents: int = 0, needs_approval: bool = False) -> None:
        super().__init__(
            f"{action} changes the order: list the details to the customer and get an explicit 'yes' first."
        )
        self.action = action
        self.amount_cents = amount_cents
        self.needs_approval = needs_approval


class ApprovalRequiredError(ToolError):
    """A confirmed write that moves more money than the shop's approval threshold: it waits for a
    staff member's approval of the exact call."""

    code = "approval_required"

    def __init__(self, action: str, amount_cents: int) -> None:
        super().__init__(
            f"{action} moves ${amount_cents / 100:.2f}, which needs a staff member's approval: tell the"
            " customer the request is waiting for review."
        )
        self.action = action
        self.amount_cents = amount_cents


class TicketStateError(ToolError):
    """A staff action the ticket's status does not allow: claimed by someone else, or resolved."""

    code = "ticket_state"


class PolicyViolation(ToolError):
    code = "policy_violation"


class OrderStatusError(PolicyViolation):
    """The order's status does not allow the action; what it is, what it must be and the action
    (a past participle: "cancelled") are kept for a reply in the customer's words."""

    def __init__(
        self, message: str, *, order_id: str = "", status: str = "", allowed: str = "",
        action: str = "",
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.order_id, self.status, self.allowed, self.action = order_id, status, allowed, action


class ReturnWindowError(PolicyViolation):
    pass


class InvalidReasonError(PolicyViolation):
    pass


class ItemMismatchError(PolicyViolation):
    pass


class ItemUnavailableError(PolicyViolation):
    pass


class PaymentMethodError(PolicyViolation):
    pass


class InsufficientBalanceError(PolicyViolation):
    """A gift card holds less than the amount; both (in dollars) kept for a reply in words."""

    def __init__(self, message: str, *, balance: float = 0.0, amount: float = 0.0) -> None:
        super().__init__(message)
        self.balance, self.amount = balance, amount


def model_message(exc: ToolError) -> str:
    """The text a tool call returns to the model when ``exc`` is raised."""
    return f"Error: {exc.message}"


__all__ = [
    "ApprovalRequiredError",
    "AuthorizationError",
    "ConfirmationRequiredError",
    "CustomerNotFoundError",
    "InsufficientBalanceError",
    "InvalidArgumentError",
    "InvalidReasonError",
    "ItemMismatchError",
    "ItemNotFoundError",
    "ItemUnavailableError",
    "NotAuthenticatedError",
    "NotFoundError",
    "NotOwnerError",
    "OrderNotFoundError",
    "OrderStatusError",
    "PaymentMethodError",
    "PaymentMethodNotFoundError",
    "PolicyViolation",
    "ProductNotFoundError",
    "ReturnWindowError",
    "TicketNotFoundError",
    "TicketStateError",
    "ToolError",
    "model_message",
]
