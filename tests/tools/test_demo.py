"""The demo shop: reproducible from its seed, realistic in shape, consistent with the tools' rules."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tools.demo import (
    REFERENCE_NOW,
    DemoShop,
    demo_docs_dir,
    generate_demo_shop,
    seed_demo_shop,
)
from tools.models import (
    Base,
    Customer,
    Order,
    OrderStatus,
    PaymentMethod,
    PaymentSource,
    Product,
    Refund,
    RefundStatus,
    TransactionType,
    Variant,
)
from tools.store import Store

MIGRATIONS = Path(__file__).resolve().parents[2] / "tools" / "migrations"

DOCS = (
    "returns-and-refunds.md",
    "exchanges.md",
    "shipping-and-delivery.md",
    "orders-and-cancellations.md",
    "payments-and-gift-cards.md",
    "account-and-privacy.md",
    "warranty-and-product-care.md",
    "faq.md",
)

# Shares of each status the generator aims for, with the tolerance a 600-order sample allows.
STATUS_SHARES = {
    OrderStatus.PENDING.value: (0.18, 0.32),
    OrderStatus.PROCESSED.value: (0.09, 0.21),
    OrderStatus.DELIVERED.value: (0.42, 0.58),
    OrderStatus.CANCELLED.value: (0.05, 0.15),
}


def new_store(directory: Path) -> Store:
    store = Store(f"sqlite:///{directory}/s.db")
    if MIGRATIONS.exists():
        store.migrate()
    else:
        Base.metadata.create_all(store.engine)
    return store


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate_demo_shop()


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, dict[str, int], float]]:
    store = new_store(tmp_path_factory.mktemp("demo"))
    started = time.perf_counter()
    counts = seed_demo_shop(store)
    elapsed = time.perf_counter() - started
    yield store, counts, elapsed
    store.dispose()


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_shop(shop: DemoShop) -> None:
    again = generate_demo_shop(7, now=REFERENCE_NOW)
    assert again.digest() == shop.digest()
    assert again == shop


def test_different_seed_gives_different_shop(shop: DemoShop) -> None:
    assert generate_demo_shop(8).digest() != shop.digest()


def test_reference_time_is_the_default_not_the_clock(shop: DemoShop) -> None:
    assert shop.now == REFERENCE_NOW
    later = generate_demo_shop(now=REFERENCE_NOW + timedelta(days=30))
    assert later.digest() != shop.digest()
    # A naive reference time is read as UTC.
    naive = REFERENCE_NOW.replace(tzinfo=None)
    assert generate_demo_shop(now=naive).digest() == shop.digest()


# --- shape of the generated data ---------------------------------------------------------------


def test_catalog_shape(shop: DemoShop) -> None:
    assert 25 <= len(shop.products) <= 35
    for product in shop.products:
        assert product.description.strip()
        assert 3 <= len(product.variants) <= 12, product.name
        axes = {tuple(v.options) for v in product.variants}
        assert len(axes) == 1 and 2 <= len(axes.pop()) <= 3, product.name
        for v in product.variants:
            assert v.price_cents > 0
            assert 0 <= v.stock <= 60
            assert v.available == (v.stock > 0)
    variants = shop.variants
    available = sum(v.available for v in variants) / len(variants)
    assert 0.75 <= available <= 0.95


def test_ids_are_well_formed_and_unique(shop: DemoShop) -> None:
    numeric = [p.product_id for p in shop.products] + [v.item_id for v in shop.variants]
    assert all(re.fullmatch(r"[1-9]\d{9}", i) for i in numeric)
    assert len(set(numeric)) == len(numeric)

    customers = shop.customers
    assert all(re.fullmatch(r"[a-z]+_[a-z]+_\d{4}", c.id) for c in customers)
    assert len({c.id for c in customers}) == len(customers)
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com", c.email) for c in customers)
    assert len({c.email for c in customers}) == len(customers)
    people = {(c.first_name, c.last_name, c.address.zip) for c in customers}
    assert len(people) == len(customers), "name + zip must identify one customer"

    methods = [m for c in customers for m in c.payment_methods]
    assert all(re.fullmatch(r"(gift_card|paypal|credit_card)_\d{7}", m.id) for m in methods)
    assert len({m.id for m in methods}) == len(methods)

    orders = shop.orders
    assert all(re.fullmatch(r"#W\d{7}", o.id) for o in orders)
    assert len({o.id for o in orders}) == len(orders)
    tracking = [f.tracking_id for o in orders for f in o.fulfillments]
    assert all(re.fullmatch(r"\d{12}", t) for t in tracking)
    assert len(set(tracking)) == len(tracking)


def test_customers_and_payment_methods(shop: DemoShop) -> None:
    assert len(shop.customers) == 300
    for c in shop.customers:
        assert c.address.country == "USA"
        assert re.fullmatch(r"\d{5}", c.address.zip)
        assert c.address.address1 and c.address.city and len(c.address.state) == 2
        assert 1 <= len(c.payment_methods) <= 3
        for m in c.payment_methods:
            if m.source == PaymentSource.GIFT_CARD:
                assert m.balance_cents is not None and 0 <= m.balance_cents <= 30000
            else:
                assert m.balance_cents is None
            if m.source == PaymentSource.CREDIT_CARD:
                assert m.brand in {"visa", "mastercard", "amex", "discover"}
                assert m.last_four is not None and re.fullmatch(r"\d{4}", m.last_four)
        assert 0 <= len(c.orders) <= 5
        assert [o.position for o in c.orders] == list(range(len(c.orders)))
        assert [o.placed_at for o in c.orders] == sorted(o.placed_at for o in c.orders)
        assert all(c.created_at < o.placed_at for o in c.orders)


def test_orders_follow_the_shop_rules(shop: DemoShop) -> None:
    now = shop.now
    orders = shop.orders
    assert 1.6 <= len(orders) / len(shop.customers) <= 2.5
    variants = {v.item_id: (p, v) for p in shop.products for v in p.variants}
    owners = {m.id: c for c in shop.customers for m in c.payment_methods}
    for o in orders:
        assert 1 <= len(o.items) <= 4
        for item in o.items:
            product, variant = variants[item.item_id]
            assert item.product_id == product.product_id and item.name == product.name
            assert item.price_cents == variant.price_cents and item.options == variant.options
        payment, *rest = o.transactions
        assert payment.transaction_type == TransactionType.PAYMENT
        assert payment.amount_cents == o.total_cents
        assert owners[payment.payment_method_id].id == o.customer_id
        assert o.address == owners[payment.payment_method_id].address
        age = now - o.placed_at
        if o.status == OrderStatus.PENDING:
            assert age <= timedelta(days=2) and not o.fulfillments and not rest
        elif o.status == OrderStatus.PROCESSED:
            assert timedelta(days=2) <= age <= timedelta(days=5) and not rest
            (f,) = o.fulfillments
            assert f.carrier in {"UPS", "FedEx", "USPS", "DHL"}
            assert o.placed_at < f.shipped_at < now < f.estimated_delivery
            assert f.delivered_at is None
        elif o.status == OrderStatus.DELIVERED:
            assert timedelta(days=7) <= age <= timedelta(days=90) and not rest
            (f,) = o.fulfillments
            assert f.delivered_at is not None
            assert o.placed_at < f.shipped_at < f.delivered_at <= now
        else:
            assert o.status == OrderStatus.CANCELLED
            assert o.cancel_reason in {"no longer needed", "ordered by mistake"}
            assert not o.fulfillments
            (refund_txn,) = rest
            assert refund_txn.transaction_type == TransactionType.REFUND
            assert refund_txn.amount_cents == payment.amount_cents
            assert refund_txn.payment_method_id == payment.payment_method_id
            (refund,) = o.refunds
            assert refund.amount_cents == payment.amount_cents
            assert refund.status in {RefundStatus.COMPLETED, RefundStatus.PENDING}
            assert o.placed_at < refund_txn.created_at <= now


def test_status_mix(shop: DemoShop) -> None:
    statuses = Counter(o.status for o in shop.orders)
    total = sum(statuses.values())
    for status, (low, high) in STATUS_SHARES.items():
        assert low <= statuses[status] / total <= high, (status, statuses)


def test_gift_cards_only_pay_what_they_hold(shop: DemoShop) -> None:
    """Replaying each customer's history from their gift cards' opening balances never overdraws."""
    for c in shop.customers:
        balances = {m.id: m.balance_cents for m in c.payment_methods if m.balance_cents is not None}
        # Opening balance = closing balance + what was spent - what came back.
        opening = dict(balances)
        for o in c.orders:
            for t in o.transactions:
                if t.payment_method_id in opening:
                    sign = 1 if t.transaction_type == TransactionType.PAYMENT else -1
                    opening[t.payment_method_id] += sign * t.amount_cents
        events = sorted(
            (t.created_at, t.transaction_type, t.amount_cents, t.payment_method_id)
            for o in c.orders
            for t in o.transactions
            if t.payment_method_id in opening
        )
        running = dict(opening)
        for _, kind, amount, pm_id in events:
            running[pm_id] += -amount if kind == TransactionType.PAYMENT else amount
            assert running[pm_id] >= 0
        assert running == balances


# --- seeding a store ---------------------------------------------------------------------------


def test_seed_writes_the_generated_counts(
    seeded: tuple[Store, dict[str, int], float], shop: DemoShop
) -> None:
    store, counts, elapsed = seeded
    assert counts == shop.counts()
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == counts["products"]
        assert s.scalar(select(func.count()).select_from(Variant)) == counts["variants"]
        assert s.scalar(select(func.count()).select_from(Customer)) == counts["customers"]
        assert s.scalar(select(func.count()).select_from(Order)) == counts["orders"]
    assert counts["customers"] == 300
    # Measured well under a second; a much slower seed means rows went out one round trip at a time.
    assert elapsed < 5


def test_seeded_orders_are_consistent(seeded: tuple[Store, dict[str, int], float]) -> None:
    store, counts, _ = seeded
    with store.read() as s:
        orders = s.scalars(select(Order)).all()
        statuses = Counter(o.status for o in orders)
        for status, (low, high) in STATUS_SHARES.items():
            assert low <= statuses[status] / len(orders) <= high
        for o in orders:
            payments = [t for t in o.transactions if t.transaction_type == TransactionType.PAYMENT]
            assert len(payments) == 1
            assert payments[0].amount_cents == sum(i.price_cents for i in o.items)
            assert o.address_dict() == o.customer.address_dict()
            assert o.placed_at is not None
        cancelled = {o.id for o in orders if o.status == OrderStatus.CANCELLED}
        refunded = Counter(s.scalars(select(Refund.order_id)).all())
        assert set(refunded) == cancelled and set(refunded.values()) == {1}
        gift_cards = s.scalars(
            select(PaymentMethod).where(PaymentMethod.source == PaymentSource.GIFT_CARD.value)
        ).all()
        assert gift_cards and all((g.balance_cents or 0) >= 0 for g in gift_cards)
        product_ids = set(s.scalars(select(Product.id)).all())
        item_ids = set(s.scalars(select(Variant.id)).all())
        assert not product_ids & item_ids
        emails = s.scalars(select(Customer.email)).all()
        assert len(set(emails)) == len(emails) == counts["customers"]


def test_second_seed_is_refused(seeded: tuple[Store, dict[str, int], float]) -> None:
    store, counts, _ = seeded
    with pytest.raises(ValueError, match="already has customers"):
        seed_demo_shop(store)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == counts["customers"]


def test_seed_accepts_a_reference_time(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    now = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
    try:
        seed_demo_shop(store, 3, now=now)
        with store.read() as s:
            latest = s.scalar(select(func.max(Order.placed_at)))
        assert latest is not None
        # SQLite hands datetimes back without their zone; they were written in UTC.
        assert latest.replace(tzinfo=UTC) <= now
    finally:
        store.dispose()


# --- documents ---------------------------------------------------------------------------------


def test_docs_folder_has_every_document() -> None:
    folder = demo_docs_dir()
    assert folder.is_dir()
    assert {p.name for p in folder.glob("*.md")} >= set(DOCS)
    for name in DOCS:
        text = (folder / name).read_text(encoding="utf-8")
        assert text.startswith("# "), name
        assert 300 <= len(text.split()) <= 900, name
        assert "\n## " in text, name


def test_faq_answers_match_the_catalog(shop: DemoShop) -> None:
    faq = (demo_docs_dir() / "faq.md").read_text(encoding="utf-8")
    questions = [line for line in faq.splitlines() if line.startswith("## ")]
    assert 15 <= len(questions) <= 25
    descriptions = {p.name: p.description for p in shop.products}
    assert "Google Home" in descriptions["Smart Thermostat"]
    assert "Alexa" in descriptions["Robot Vacuum"]
    assert "no hub" in descriptions["Smart Light Bulb"]
    # Every product a question names exists in the catalog.
    for question in questions:
        for name in re.findall(r"the ((?:[A-Z][\w-]* ?)+)\b", question):
            name = name.strip()
            if name not in {"USA"}:
                assert name in descriptions or name.rstrip("s") in descriptions, name
