"""The commerce store's tables: SQLAlchemy 2 typed ORM, identical on SQLite and PostgreSQL.

Money is stored as integer cents so arithmetic is exact on both databases; the tools speak dollars
(floats rounded to cents) at their boundary, as the tau2 retail format does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the offset; SQLite stores text without one and hands back naive values, so
    values are normalised to UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give store timestamps a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints make Alembic migrations identical on both databases.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    # Spelled as the tau2 retail tools write it, so replayed tau2 tasks compare equal.
    PENDING_ITEMS_MODIFIED = "pending (item modified)"
    RETURN_REQUESTED = "return requested"
    EXCHANGE_REQUESTED = "exchange requested"


class PaymentSource(StrEnum):
    GIFT_CARD = "gift_card"
    PAYPAL = "paypal"
    CREDIT_CARD = "credit_card"


class TransactionType(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class RefundStatus(StrEnum):
    PENDING = "pending"
    """Promised, waiting for the returned items or the card processor (5-7 business days)."""
    COMPLETED = "completed"
    AWAITING_RETURN = "awaiting return"
    """Issued once the returned items arrive."""


class TicketStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    """A human agent has taken it; others leave it alone."""
    RESOLVED = "resolved"


class TicketKind(StrEnum):
    HANDOFF = "handoff"
    """The conversation was handed to a human (the customer asked, or the agent could not help)."""
    FOLLOW_UP = "follow_up"
    """Work for the shop's staff; the bot keeps the conversation."""
    APPROVAL = "approval"
    """A risky write waits for a human to approve, reject or edit it."""


class Address:
    """Columns shared by customers' default addresses and orders' shipping addresses."""

    address1: Mapped[str] = mapped_column(String(200))
    address2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(50))
    country: Mapped[str] = mapped_column(String(60))
    zip: Mapped[str] = mapped_column(String(20))

    def address_dict(self) -> dict[str, str]:
        return {
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "country": self.country,
            "state": self.state,
            "zip": self.zip,
        }


class Customer(Address, Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    payment_methods: Mapped[list[PaymentMethod]] = relationship(
        back_populates="customer", order_by="PaymentMethod.position"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="customer", order_by="Order.position")

    __table_args__ = (Index("ix_customers_name_zip", "first_name", "last_name", "zip"),)


class PaymentMethod(Base):
    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(40))
    last_four: Mapped[str | None] = mapped_column(String(4))
    balance_cents: Mapped[int | None] = mapped_column(BigInteger)
    """Gift cards only; never negative (a database constraint as well as a rule in code)."""

    customer: Mapped[Customer] = relationship(back_populates="payment_methods")

    __table_args__ = (
        CheckConstraint("balance_cents IS NULL OR balance_cents >= 0", name="balance_not_negative"),
    )


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position"
    )


class Variant(Base):
    __tablename__ = "variants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The item id customers and tools use (tau2's ``item_id``)."""
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    available: Mapped[bool] = mapped_column(Boolean)
    stock: Mapped[int | None] = mapped_column(Integer)
    """Units on hand, where the shop tracks counts (the tau2 data does not: None)."""

    product: Mapped[Product] = relationship(back_populates="variants")

    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)


class Order(Address, Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    """Order of the customer's order list, as imported."""
    status: Mapped[str] = mapped_column(String(40), index=True)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    return_items: Mapped[list[str] | None] = mapped_column(JSON)
    return_payment_method_id: Mapped[str | None] = mapped_column(String(80))
    exchange_items: Mapped[list[str] | None] = mapped_column(JSON)
    exchange_new_items: Mapped[list[str] | None] = mapped_column(JSON)
    exchange_payment_method_id: Mapped[str | None] = mapped_column(String(80))
    exchange_price_difference_cents: Mapped[int | None] = mapped_column(BigInteger)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    fulfillments: Mapped[list[Fulfillment]] = relationship(
        back_populates="order", order_by="Fulfillment.position", cascade="all, delete-orphan"
    )
    transactions: Mapped[list[PaymentTransaction]] = relationship(
        back_populates="order", order_by="PaymentTransaction.position", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("variants.id"))
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    """Price paid, frozen at purchase time (the variant's price may change later)."""
    options: Mapped[dict[str, Any]] = mapped_column(JSON)

    order: Mapped[Order] = relationship(back_populates="items")


class Fulfillment(Base):
    __tablename__ = "fulfillments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    tracking_ids: Mapped[list[str]] = mapped_column(JSON)
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    carrier: Mapped[str | None] = mapped_column(String(40))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    estimated_delivery: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="fulfillments")


class PaymentTransaction(Base):
    """One line of an order's payment history (tau2's ``payment_history``)."""

    __tablename__ = "payment_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    transaction_type: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    payment_method_id: Mapped[str] = mapped_column(ForeignKey("payment_methods.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="transactions")

    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)


class Return(Base):
    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    payment_method_id: Mapped[str] = mapped_column(ForeignKey("payment_methods.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Exchange(Base):
    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    new_item_ids: Mapped[list[str]] = mapped_column(JSON)
    payment_method_id: Mapped[str] = mapped_column(ForeignKey("payment_methods.id"))
    price_difference_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Refund(Base):
    """Money owed back to a customer: immediate for gift cards, 5-7 business days otherwise."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_method_id: Mapped[str] = mapped_column(ForeignKey("payment_methods.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expected_by: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    conversation_id: Mapped[str | None] = mapped_column(String(80), index=True)
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.OPEN.value, index=True)
    kind: Mapped[str] = mapped_column(
        String(20), default=TicketKind.HANDOFF.value, server_default=TicketKind.HANDOFF.value
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    """The staff member who holds the ticket (an id derived from their API key)."""
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint("severity BETWEEN 1 AND 5", name="severity_range"),)


class AuditEntry(Base):
    """Append-only record of every write; rows are never updated or deleted by concierge."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80), index=True)
    target: Mapped[str | None] = mapped_column(String(80), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyRecord(Base):
    """The stored result of a write, keyed by its confirmed action, so a retry replays it."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
