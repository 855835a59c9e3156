"""The demo shop: a deterministic home & outdoor store (catalog, customers, order history) and its
policy documents.

``generate_demo_shop`` builds plain, immutable data from a seed; ``seed_demo_shop`` writes it into
an empty store. The same seed and reference time always give the same shop, so demos, tests and
evals can name real order ids. Every name, product and address here was written for concierge.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import select

from tools.models import (
    Customer,
    Fulfillment,
    Order,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentSource,
    PaymentTransaction,
    Product,
    Refund,
    RefundStatus,
    TransactionType,
    Variant,
)
from tools.orders import CANCEL_REASONS, business_days_after
from tools.store import Store

REFERENCE_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""The demo shop's "today" unless the caller gives another, so it never depends on the clock."""

_DOCS_DIR = Path(__file__).resolve().parent / "demo_docs"

# --------------------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoVariant:
    item_id: str
    options: dict[str, str]
    price_cents: int
    available: bool
    stock: int


@dataclass(frozen=True)
class DemoProduct:
    product_id: str
    name: str
    description: str
    variants: tuple[DemoVariant, ...]


@dataclass(frozen=True)
class DemoAddress:
    address1: str
    address2: str
    city: str
    state: str
    country: str
    zip: str


@dataclass(frozen=True)
class DemoPaymentMethod:
    id: str
    source: str
    brand: str | None = None
    last_four: str | None = None
    balance_cents: int | None = None
    """Gift cards only: the balance after the customer's order history."""


@dataclass(frozen=True)
class DemoOrderItem:
    product_id: str
    item_id: str
    name: str
    price_cents: int
    options: dict[str, str]


@dataclass(frozen=True)
class DemoFulfillment:
    carrier: str
    tracking_id: str
    item_ids: tuple[str, ...]
    shipped_at: datetime
    estimated_delivery: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DemoTransaction:
    transaction_type: str
    amount_cents: int
    payment_method_id: str
    created_at: datetime


@dataclass(frozen=True)
class DemoRefund:
    payment_method_id: str
    amount_cents: int
    reason: str
    status: str
    created_at: datetime
    expected_by: datetime


@dataclass(frozen=True)
class DemoOrder:
    id: str
    customer_id: str
    position: int
    status: str
    placed_at: datetime
    updated_at: datetime
    address: DemoAddress
    items: tuple[DemoOrderItem, ...]
    transactions: tuple[DemoTransaction, ...]
    fulfillments: tuple[DemoFulfillment, ...] = ()
    refunds: tuple[DemoRefund, ...] = ()
    cancel_reason: str | None = None

    @property
    def total_cents(self) -> int:
        return sum(item.price_cents for item in self.items)


@dataclass(frozen=True)
class DemoCustomer:
    id: str
    first_name: str
    last_name: str
    email: str
    address: DemoAddress
    created_at: datetime
    payment_methods: tuple[DemoPaymentMethod, ...]
    orders: tuple[DemoOrder, ...]
    """Oldest first; ``DemoOrder.position`` is the index here."""


@dataclass(frozen=True)
class DemoShop:
    """Everything ``seed_demo_shop`` writes, as plain data."""

    seed: int
    now: datetime
    products: tuple[DemoProduct, ...]
    customers: tuple[DemoCustomer, ...]

    @property
    def variants(self) -> tuple[DemoVariant, ...]:
        return tuple(v for p in self.products for v in p.variants)

    @property
    def orders(self) -> tuple[DemoOrder, ...]:
        """Every customer's orders, customer by customer."""
        return tuple(o for c in self.customers for o in c.orders)

    def counts(self) -> dict[str, int]:
        """What ``seed_demo_shop`` reports: products, variants, customers, orders."""
        return {
            "products": len(self.products),
            "variants": len(self.variants),
            "customers": len(self.customers),
            "orders": len(self.orders),
        }

    def digest(self) -> str:
        """A SHA-256 of the whole shop, equal for equal shops (for reproducibility checks)."""
        canonical = json.dumps(asdict(self), sort_keys=True, default=_json_default)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------------------------------
# Content: our own catalog, names and places
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProductSpec:
    name: str
    description: str
    base_cents: int
    axes: tuple[tuple[str, tuple[str, ...]], ...]


_SIZES = ("S", "M", "L", "XL")

_CATALOG: tuple[_ProductSpec, ...] = (
    _ProductSpec(
        "Trail Running Shoe",
        "A lightweight trail runner with a lugged outsole for grip on loose ground and a "
        "waterproof membrane that keeps feet dry. US men's whole sizes; the fit runs true to size.",
        12900,
        (
            ("size", ("7", "8", "9", "10", "11", "12")),
            ("color", ("black", "slate blue", "ember red")),
        ),
    ),
    _ProductSpec(
        "Insulated Water Bottle",
        "Double-walled stainless steel keeps drinks cold for 24 hours or hot for 12. The bottle is "
        "dishwasher safe and the lids are top-rack safe.",
        3400,
        (
            ("capacity", ("500ml", "750ml", "1000ml")),
            ("color", ("white", "black", "sage", "navy")),
            ("lid", ("straw lid", "screw cap")),
        ),
    ),
    _ProductSpec(
        "Smart Thermostat",
        "A learning thermostat that works with Google Home, Amazon Alexa and Apple Home, "
        "controlled from our free app. Needs a C-wire or the included power adapter; the pro model "
        "adds two room sensors and monthly energy reports.",
        17900,
        (("color", ("white", "black", "brushed steel")), ("model", ("standard", "pro"))),
    ),
    _ProductSpec(
        "Merino Wool Sweater",
        "A fine-knit 100% merino wool crew neck that stays warm without bulk and resists odor. "
        "Hand wash cold or use a wool cycle, and dry flat.",
        11800,
        (
            ("size", ("XS", "S", "M", "L", "XL")),
            ("color", ("charcoal", "navy", "oatmeal")),
            ("fit", ("regular", "slim")),
        ),
    ),
    _ProductSpec(
        "Espresso Grinder",
        "A burr grinder with 40 grind settings, from espresso-fine to French-press coarse, and a "
        "timed dose button. The burrs lift out for cleaning without tools.",
        24900,
        (
            ("color", ("black", "silver", "white")),
            ("burr", ("conical", "flat")),
            ("hopper", ("250g", "400g")),
        ),
    ),
    _ProductSpec(
        "Camping Tent",
        "A freestanding dome tent that pitches in under ten minutes with color-coded poles. Taped "
        "seams and a full-coverage rainfly keep it dry in steady rain.",
        27900,
        (
            ("capacity", ("2-person", "3-person", "4-person")),
            ("season", ("3-season", "4-season")),
            ("color", ("forest green", "orange")),
        ),
    ),
    _ProductSpec(
        "Down Sleeping Bag",
        "Water-resistant 650-fill down in a mummy cut with a draft collar. Packs into the included "
        "compression sack; store it loose in the large cotton storage bag.",
        22900,
        (
            ("temperature rating", ("15F", "30F", "45F")),
            ("length", ("regular", "long")),
            ("color", ("blue", "red")),
        ),
    ),
    _ProductSpec(
        "Hiking Backpack",
        "A hydration-compatible pack with an adjustable torso length, hip-belt pockets and a "
        "built-in rain cover.",
        15900,
        (
            ("capacity", ("30L", "45L", "60L")),
            ("torso size", ("S/M", "M/L")),
            ("color", ("black", "olive", "rust")),
        ),
    ),
    _ProductSpec(
        "Rain Jacket",
        "A breathable, fully waterproof shell with taped seams, pit zips and a hood that stows in "
        "the collar. Packs into its own chest pocket.",
        14900,
        (("size", _SIZES), ("color", ("black", "yellow", "teal"))),
    ),
    _ProductSpec(
        "Cast Iron Skillet",
        "Cast iron that goes from stovetop to oven to campfire and works on induction. Not "
        "dishwasher safe: rinse, dry on low heat and wipe with a thin coat of oil.",
        4500,
        (("size", ("8 inch", "10 inch", "12 inch")), ("finish", ("pre-seasoned", "enameled"))),
    ),
    _ProductSpec(
        "Electric Kettle",
        "Boils a full kettle in about four minutes, with automatic shut-off and boil-dry "
        "protection. Cordless on a 360-degree base; the limescale filter lifts out for rinsing.",
        5900,
        (
            ("capacity", ("1L", "1.7L")),
            ("material", ("stainless steel", "glass")),
            ("color", ("black", "white")),
        ),
    ),
    _ProductSpec(
        "French Press",
        "A double-screen press for clean, full-bodied coffee. The stainless steel version is "
        "insulated and unbreakable for camping; every part is dishwasher safe.",
        3900,
        (
            ("capacity", ("350ml", "1L")),
            ("material", ("glass", "stainless steel")),
            ("color", ("black", "copper", "silver")),
        ),
    ),
    _ProductSpec(
        "Robot Vacuum",
        "Maps your home with lidar, cleans room by room and returns to its dock to recharge. Works "
        "with Amazon Alexa and Google Home; the self-emptying dock holds about 45 days of debris.",
        32900,
        (
            ("color", ("black", "white")),
            ("dock", ("charging", "self-emptying")),
            ("mop", ("no mop", "mop pad")),
        ),
    ),
    _ProductSpec(
        "LED Desk Lamp",
        "A dimmable, flicker-free lamp with a USB-C charging port in the base and a memory "
        "function that remembers your last brightness.",
        6900,
        (("color", ("black", "white", "silver")), ("light", ("warm white", "adjustable white"))),
    ),
    _ProductSpec(
        "Bluetooth Speaker",
        "A rugged IP67 speaker: dustproof, waterproof to one meter for 30 minutes, and it floats. "
        "Up to 12 hours of play (mini) or 20 hours (standard) per USB-C charge.",
        8900,
        (("color", ("black", "blue", "red", "green")), ("size", ("mini", "standard"))),
    ),
    _ProductSpec(
        "LED Headlamp",
        "A 70-gram headlamp with a red night-vision mode and a lock-out switch so it never turns "
        "on in your pack. Rechargeable models charge over USB-C; battery models take three AAA "
        "cells (included).",
        3900,
        (
            ("brightness", ("200 lumens", "400 lumens", "600 lumens")),
            ("power", ("AAA batteries", "rechargeable")),
            ("color", ("black", "orange")),
        ),
    ),
    _ProductSpec(
        "Camping Stove",
        "A compact stove with push-button ignition and wind guards, up to 10,000 BTU per burner. "
        "Fuel canisters are not included.",
        7900,
        (
            ("fuel", ("propane", "butane")),
            ("burners", ("1", "2")),
            ("color", ("green", "gray")),
        ),
    ),
    _ProductSpec(
        "Camping Hammock",
        "Comes with tree-friendly straps and steel carabiners and sets up in about two minutes. "
        "The single holds 300 pounds, the double 400 pounds.",
        6400,
        (
            ("size", ("single", "double")),
            ("material", ("nylon", "cotton")),
            ("color", ("blue", "gray", "orange")),
        ),
    ),
    _ProductSpec(
        "Yoga Mat",
        "A non-slip mat with alignment lines, 72 by 24 inches. The natural rubber version contains "
        "latex; the TPE version is latex-free.",
        5900,
        (
            ("thickness", ("4mm", "6mm", "8mm")),
            ("material", ("TPE", "natural rubber")),
            ("color", ("purple", "black", "teal")),
        ),
    ),
    _ProductSpec(
        "Air Purifier",
        "A quiet purifier with a true HEPA filter for rooms up to 250 (small), 500 (medium) or 900 "
        "(large) square feet. Replace the filter about every six months; the app reminds you.",
        19900,
        (
            ("room size", ("small", "medium", "large")),
            ("filter", ("HEPA", "HEPA + carbon")),
            ("color", ("white", "gray")),
        ),
    ),
    _ProductSpec(
        "Smart Light Bulb",
        "A dimmable Wi-Fi bulb that works with Google Home and Amazon Alexa, no hub needed, and is "
        "equivalent to a 60 W incandescent. Schedules and scenes are set in our free app.",
        1900,
        (
            ("pack", ("1 bulb", "4 bulbs")),
            ("base", ("E26", "GU10")),
            ("light", ("white", "color")),
        ),
    ),
    _ProductSpec(
        "Bath Towel Set",
        "Long-staple cotton towels woven for softness and quick drying. Machine wash warm and skip "
        "fabric softener to keep them absorbent.",
        4900,
        (
            ("size", ("hand towel", "bath towel", "bath sheet")),
            ("color", ("white", "sand", "slate")),
        ),
    ),
    _ProductSpec(
        "Linen Sheet Set",
        "Stonewashed flax linen that gets softer with every wash: a flat sheet, a fitted sheet and "
        "two pillowcases. Fitted sheets suit mattresses up to 16 inches deep.",
        18900,
        (
            ("size", ("twin", "full", "queen", "king")),
            ("color", ("white", "natural", "sage")),
        ),
    ),
    _ProductSpec(
        "Picnic Blanket",
        "A water-resistant backing keeps damp grass out, and it folds into its own carry strap. "
        "Machine washable on a gentle cycle.",
        3900,
        (("size", ("standard", "large")), ("color", ("red plaid", "blue plaid", "green plaid"))),
    ),
    _ProductSpec(
        "Wool Hiking Socks",
        "Merino blend socks with extra cushioning under heel and toe and a seamless toe, sold as a "
        "two-pair pack. Machine wash warm, tumble dry low.",
        2200,
        (("size", _SIZES), ("cushion", ("light", "medium", "heavy"))),
    ),
    _ProductSpec(
        "Garden Hose",
        "A kink-resistant hose with crush-proof brass fittings and a seven-pattern spray nozzle "
        "included. Drain it and store it out of the sun over winter.",
        4900,
        (("length", ("25ft", "50ft", "100ft")), ("material", ("rubber", "expandable"))),
    ),
    _ProductSpec(
        "Dutch Oven",
        "Enameled cast iron for braises, soups and bread, oven safe to 500F and suitable for "
        "induction. Hand washing keeps the enamel glossy.",
        10900,
        (
            ("capacity", ("4.5qt", "5.5qt", "7qt")),
            ("color", ("cherry", "navy", "white", "black")),
        ),
    ),
    _ProductSpec(
        "Solar Lantern",
        "Charges in about eight hours of sunlight or over USB and doubles as a phone power bank. "
        "Collapses flat for packing.",
        2900,
        (("brightness", ("100 lumens", "300 lumens")), ("color", ("yellow", "black", "white"))),
    ),
    _ProductSpec(
        "Hard Cooler",
        "Rotomolded with thick insulation that keeps ice for up to five days. The lid latches shut "
        "and has a built-in bottle opener and drain plug.",
        21900,
        (("capacity", ("25qt", "45qt", "65qt")), ("color", ("white", "tan", "blue"))),
    ),
    _ProductSpec(
        "Trekking Poles",
        "A pair of adjustable poles from 100 to 135 cm with flip locks and carbide tips; they "
        "collapse to 62 cm for travel.",
        8900,
        (
            ("material", ("aluminum", "carbon fiber")),
            ("grip", ("cork", "foam")),
            ("color", ("black", "blue")),
        ),
    ),
)

_FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Olivia", "Ethan", "Sofia", "Lucas", "Chloe", "Mateo", "Priya",
    "Omar", "Hannah", "Diego", "Grace", "Kenji", "Amara", "Samuel", "Leah", "Arjun", "Isabel",
    "Marcus", "Nora", "Tariq", "Elena", "Felix", "Zoe", "Rafael", "Yuki", "Caleb", "Fatima", "Owen",
    "Mei", "Jonah", "Ingrid", "Theo", "Aisha", "Miles", "Rosa", "Declan", "Lina", "Victor", "Naomi",
    "Hugo", "Camila", "Elijah", "Anya", "Julian", "Sana", "Ruby",
)  # fmt: skip

_LAST_NAMES = (
    "Garcia", "Nguyen", "Patel", "Johnson", "Kim", "Okafor", "Rossi", "Schmidt", "Silva", "Cohen",
    "Tanaka", "Murphy", "Hassan", "Larsen", "Moreno", "Novak", "Chen", "Walker", "Dubois", "Reyes",
    "Fischer", "Ali", "Brennan", "Sato", "Kowalski", "Mendoza", "Haddad", "Olsen", "Ortiz",
    "Wright", "Ibrahim", "Lopez", "Park", "Andersen", "Bianchi", "Foster", "Gupta", "Hughes",
    "Lindqvist", "Mensah", "Petrov", "Quinn", "Ramirez", "Singh", "Turner", "Varga", "Weber",
    "Young", "Zhou", "Adams",
)  # fmt: skip

_STREETS = (
    "Maple Avenue", "Cedar Street", "Lakeview Drive", "Willow Lane", "Ridge Road", "Harbor Way",
    "Pine Street", "Elm Court", "Sunset Boulevard", "Mill Road", "Orchard Lane", "River Street",
    "Hillcrest Drive", "Oak Street", "Meadow Lane", "Park Avenue", "Birch Road", "Canyon Drive",
    "Spruce Street", "Juniper Way", "Aspen Court", "Prospect Street", "Highland Avenue",
    "Forest Road",
)  # fmt: skip

# (city, state, first three digits of a zip code there)
_PLACES = (
    ("Portland", "OR", "972"), ("Seattle", "WA", "981"), ("Denver", "CO", "802"),
    ("Boulder", "CO", "803"), ("Austin", "TX", "787"), ("San Antonio", "TX", "782"),
    ("Phoenix", "AZ", "850"), ("Tucson", "AZ", "857"), ("Salt Lake City", "UT", "841"),
    ("Boise", "ID", "837"), ("Minneapolis", "MN", "554"), ("Madison", "WI", "537"),
    ("Chicago", "IL", "606"), ("Columbus", "OH", "432"), ("Pittsburgh", "PA", "152"),
    ("Philadelphia", "PA", "191"), ("Boston", "MA", "021"), ("Burlington", "VT", "054"),
    ("New York", "NY", "100"), ("Raleigh", "NC", "276"), ("Asheville", "NC", "288"),
    ("Atlanta", "GA", "303"), ("Nashville", "TN", "372"), ("Tampa", "FL", "336"),
    ("New Orleans", "LA", "701"), ("Kansas City", "MO", "641"), ("Albuquerque", "NM", "871"),
    ("San Diego", "CA", "921"), ("San Francisco", "CA", "941"), ("Sacramento", "CA", "958"),
    ("Anchorage", "AK", "995"), ("Honolulu", "HI", "968"),
)  # fmt: skip

_UNIT_KINDS = ("Apt", "Suite", "Unit")
_CARD_BRANDS = ("visa", "mastercard", "amex", "discover")
_CARRIERS = ("UPS", "FedEx", "USPS", "DHL")

_STATUS_WEIGHTS = {
    OrderStatus.PENDING: 25,
    OrderStatus.PROCESSED: 15,
    OrderStatus.DELIVERED: 50,
    OrderStatus.CANCELLED: 10,
}
_ORDERS_PER_CUSTOMER_WEIGHTS = (10, 25, 30, 20, 10, 5)  # 0..5 orders, mean 2.1
_SOURCE_WEIGHTS = {
    PaymentSource.CREDIT_CARD: 45,
    PaymentSource.PAYPAL: 30,
    PaymentSource.GIFT_CARD: 25,
}

# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------


def _unique(used: set[str], make: Callable[[], str]) -> str:
    while True:
        value = make()
        if value not in used:
            used.add(value)
            return value


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _prefixed(rng: random.Random, prefix: str, n: int) -> str:
    return prefix + _digits(rng, n)


def _seconds_ago(rng: random.Random, now: datetime, low: timedelta, high: timedelta) -> datetime:
    seconds = rng.randint(int(low.total_seconds()), int(high.total_seconds()))
    return now - timedelta(seconds=seconds)


def _generate_products(rng: random.Random, numeric_ids: set[str]) -> tuple[DemoProduct, ...]:
    def numeric_id() -> str:
        return _unique(numeric_ids, lambda: str(rng.randint(1_000_000_000, 9_999_999_999)))

    products = []
    for spec in _CATALOG:
        product_id = numeric_id()
        names = [axis for axis, _ in spec.axes]
        combos = list(itertools.product(*(range(len(values)) for _, values in spec.axes)))
        if len(combos) > 12:
            # Real shops rarely stock every combination; keep a random 8-12 in catalog order.
            keep = set(rng.sample(range(len(combos)), rng.randint(8, 12)))
            combos = [c for i, c in enumerate(combos) if i in keep]
        variants = []
        for combo in combos:
            options = {names[axis]: spec.axes[axis][1][index] for axis, index in enumerate(combo)}
            # Later option values (bigger, pro) cost a bit more; jitter makes prices look hand-set.
            premium = 1 + 0.03 * sum(combo)
            price = round(spec.base_cents * premium * rng.uniform(0.96, 1.04))
            available = rng.random() < 0.85
            variants.append(
                DemoVariant(
                    item_id=numeric_id(),
                    options=options,
                    price_cents=price,
                    available=available,
                    stock=rng.randint(1, 60) if available else 0,
                )
            )
        products.append(DemoProduct(product_id, spec.name, spec.description, tuple(variants)))
    return tuple(products)


class _GiftCardLedger:
    """Gift card balances over time, so a card only pays what it held when the order was placed."""

    def __init__(self, balances: dict[str, int]) -> None:
        self.balances = dict(balances)
        self._credits: list[tuple[datetime, str, int]] = []

    def balance_at(self, pm_id: str, when: datetime) -> int:
        due = [c for c in self._credits if c[0] <= when]
        for credit in due:
            self.balances[credit[1]] += credit[2]
            self._credits.remove(credit)
        return self.balances[pm_id]

    def debit(self, pm_id: str, amount_cents: int) -> None:
        self.balances[pm_id] -= amount_cents

    def credit_later(self, pm_id: str, when: datetime, amount_cents: int) -> None:
        self._credits.append((when, pm_id, amount_cents))

    def settle(self) -> dict[str, int]:
        for _, pm_id, amount in self._credits:
            self.balances[pm_id] += amount
        self._credits.clear()
        return self.balances


def _generate_payment_methods(rng: random.Random, used_ids: set[str]) -> list[DemoPaymentMethod]:
    count = rng.choices((1, 2, 3), weights=(45, 40, 15))[0]
    sources = rng.choices(list(_SOURCE_WEIGHTS), weights=list(_SOURCE_WEIGHTS.values()), k=count)
    if all(s == PaymentSource.GIFT_CARD for s in sources):
        # Every customer can pay for any order: a gift card alone may not cover it.
        sources[0] = PaymentSource.CREDIT_CARD
    methods = []
    for source in sources:
        pm_id = _unique(used_ids, partial(_prefixed, rng, f"{source.value}_", 7))
        if source == PaymentSource.GIFT_CARD:
            methods.append(
                DemoPaymentMethod(pm_id, source.value, balance_cents=rng.randint(0, 30000))
            )
        elif source == PaymentSource.CREDIT_CARD:
            methods.append(
                DemoPaymentMethod(
                    pm_id, source.value, brand=rng.choice(_CARD_BRANDS), last_four=_digits(rng, 4)
                )
            )
        else:
            methods.append(DemoPaymentMethod(pm_id, source.value))
    return methods


def _placed_and_events(
    rng: random.Random, status: OrderStatus, now: datetime
) -> tuple[datetime, dict[str, datetime]]:
    """When an order of ``status`` was placed, and when it shipped / arrived / was cancelled."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    events: dict[str, datetime] = {}
    if status == OrderStatus.PENDING:
        placed = _seconds_ago(rng, now, 10 * timedelta(minutes=1), 2 * day - hour)
    elif status == OrderStatus.PROCESSED:
        placed = _seconds_ago(rng, now, 2 * day, 5 * day)
        events["shipped"] = placed + timedelta(seconds=rng.randint(6 * 3600, 40 * 3600))
        events["estimated"] = now + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
    elif status == OrderStatus.DELIVERED:
        placed = _seconds_ago(rng, now, 7 * day, 90 * day)
        shipped = placed + timedelta(seconds=rng.randint(6 * 3600, 40 * 3600))
        events["shipped"] = shipped
        events["estimated"] = shipped + timedelta(days=rng.randint(3, 6))
        # At most 40 h + 5 days after placing, so always before ``now``.
        events["delivered"] = shipped + timedelta(seconds=rng.randint(2 * 86400, 5 * 86400))
    else:
        placed = _seconds_ago(rng, now, 2 * day, 60 * day)
        # Only pending orders can be cancelled, so the cancellation came within the pending window.
        events["cancelled"] = placed + timedelta(seconds=rng.randint(600, 36 * 3600))
    return placed, events


def _generate_orders(
    rng: random.Random,
    now: datetime,
    customer_id: str,
    address: DemoAddress,
    methods: list[DemoPaymentMethod],
    products: tuple[DemoProduct, ...],
    used_ids: set[str],
) -> tuple[tuple[DemoOrder, ...], dict[str, int]]:
    """The customer's orders (oldest first) and their gift card balances afterwards."""
    count = rng.choices(range(6), weights=_ORDERS_PER_CUSTOMER_WEIGHTS)[0]
    statuses = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()), k=count)
    timed = sorted(
        (_placed_and_events(rng, status, now) + (status,) for status in statuses),
        key=lambda t: t[0],
    )
    ledger = _GiftCardLedger(
        {m.id: m.balance_cents or 0 for m in methods if m.source == PaymentSource.GIFT_CARD}
    )
    orders = []
    for position, (placed, events, status) in enumerate(timed):
        recent = status in (OrderStatus.PENDING, OrderStatus.PROCESSED)
        items = []
        for _ in range(rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]):
            product = rng.choice(products)
            # A recent order took what is in stock today; older items may have sold out since.
            candidates = [v for v in product.variants if v.available] if recent else []
            variant = rng.choice(candidates or list(product.variants))
            items.append(
                DemoOrderItem(
                    product.product_id,
                    variant.item_id,
                    product.name,
                    variant.price_cents,
                    dict(variant.options),
                )
            )
        total = sum(i.price_cents for i in items)
        payer = rng.choice(methods)
        if payer.source == PaymentSource.GIFT_CARD:
            if ledger.balance_at(payer.id, placed) >= total:
                ledger.debit(payer.id, total)
            else:
                payer = rng.choice([m for m in methods if m.source != PaymentSource.GIFT_CARD])
        transactions = [DemoTransaction(TransactionType.PAYMENT.value, total, payer.id, placed)]
        fulfillments: list[DemoFulfillment] = []
        refunds: list[DemoRefund] = []
        cancel_reason = None
        updated = placed
        if "shipped" in events:
            fulfillments.append(
                DemoFulfillment(
                    carrier=rng.choice(_CARRIERS),
                    tracking_id=_unique(used_ids, lambda: str(rng.randint(10**11, 10**12 - 1))),
                    item_ids=tuple(i.item_id for i in items),
                    shipped_at=events["shipped"],
                    estimated_delivery=events["estimated"],
                    delivered_at=events.get("delivered"),
                )
            )
            updated = events.get("delivered", events["shipped"])
        if "cancelled" in events:
            cancelled = events["cancelled"]
            cancel_reason = rng.choice(CANCEL_REASONS)
            transactions.append(
                DemoTransaction(TransactionType.REFUND.value, total, payer.id, cancelled)
            )
            refunds.append(_cancellation_refund(payer, total, cancelled, now))
            if payer.source == PaymentSource.GIFT_CARD:
                ledger.credit_later(payer.id, cancelled, total)
            updated = cancelled
        orders.append(
            DemoOrder(
                id=_unique(used_ids, partial(_prefixed, rng, "#W", 7)),
                customer_id=customer_id,
                position=position,
                status=status.value,
                placed_at=placed,
                updated_at=updated,
                address=address,
                items=tuple(items),
                transactions=tuple(transactions),
                fulfillments=tuple(fulfillments),
                refunds=tuple(refunds),
                cancel_reason=cancel_reason,
            )
        )
    return tuple(orders), ledger.settle()


def _cancellation_refund(
    payer: DemoPaymentMethod, amount_cents: int, cancelled: datetime, now: datetime
) -> DemoRefund:
    # As tools.orders.record_refund: gift cards at once, other methods within 7 business days.
    if payer.source == PaymentSource.GIFT_CARD:
        return DemoRefund(
            payer.id,
            amount_cents,
            "cancellation",
            RefundStatus.COMPLETED.value,
            cancelled,
            cancelled,
        )
    expected = business_days_after(cancelled, 7)
    status = RefundStatus.COMPLETED if expected <= now else RefundStatus.PENDING
    return DemoRefund(payer.id, amount_cents, "cancellation", status.value, cancelled, expected)


def _generate_customer(
    rng: random.Random,
    now: datetime,
    products: tuple[DemoProduct, ...],
    used_ids: set[str],
    used_people: set[tuple[str, str, str]],
) -> DemoCustomer:
    while True:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        city, state, zip_prefix = rng.choice(_PLACES)
        zip_code = zip_prefix + _digits(rng, 2)
        # Name + zip identifies a customer (tools.identity), so it must be unique.
        if (first, last, zip_code) not in used_people:
            used_people.add((first, last, zip_code))
            break
    slug_first, slug_last = first.lower(), last.lower()
    customer_id = _unique(used_ids, lambda: f"{slug_first}_{slug_last}_{rng.randint(1000, 9999)}")
    email = _unique(used_ids, lambda: f"{slug_first}.{slug_last}{rng.randint(1, 999)}@example.com")
    address2 = ""
    if rng.random() < 0.35:
        address2 = f"{rng.choice(_UNIT_KINDS)} {rng.randint(1, 40)}{rng.choice(['', 'A', 'B'])}"
    address = DemoAddress(
        address1=f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}",
        address2=address2,
        city=city,
        state=state,
        country="USA",
        zip=zip_code,
    )
    created = _seconds_ago(rng, now, timedelta(days=120), timedelta(days=900))
    methods = _generate_payment_methods(rng, used_ids)
    orders, balances = _generate_orders(rng, now, customer_id, address, methods, products, used_ids)
    final_methods = tuple(
        DemoPaymentMethod(m.id, m.source, m.brand, m.last_four, balances[m.id])
        if m.id in balances
        else m
        for m in methods
    )
    return DemoCustomer(
        id=customer_id,
        first_name=first,
        last_name=last,
        email=email,
        address=address,
        created_at=created,
        payment_methods=final_methods,
        orders=orders,
    )


def generate_demo_shop(
    seed: int = 7, *, customers: int = 300, now: datetime | None = None
) -> DemoShop:
    """The demo shop for ``seed`` as seen at ``now`` (default ``REFERENCE_NOW``; a naive datetime is
    taken as UTC). Equal arguments always give an equal shop."""
    if customers < 0:
        raise ValueError("customers must be zero or more")
    now = REFERENCE_NOW if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rng = random.Random(seed)
    # One pool for product and item ids, another for every other id, so no two ids ever coincide.
    products = _generate_products(rng, set())
    used_ids: set[str] = set()
    used_people: set[tuple[str, str, str]] = set()
    people = tuple(
        _generate_customer(rng, now, products, used_ids, used_people) for _ in range(customers)
    )
    return DemoShop(seed=seed, now=now, products=products, customers=people)


# --------------------------------------------------------------------------------------------------
# Writing to a store
# --------------------------------------------------------------------------------------------------


def _address_columns(address: DemoAddress) -> dict[str, str]:
    return asdict(address)


def _order_row(order: DemoOrder) -> tuple[Order, list[Refund]]:
    row = Order(
        id=order.id,
        customer_id=order.customer_id,
        position=order.position,
        status=order.status,
        placed_at=order.placed_at,
        updated_at=order.updated_at,
        cancel_reason=order.cancel_reason,
        **_address_columns(order.address),
    )
    row.items = [
        OrderItem(
            position=i,
            product_id=item.product_id,
            item_id=item.item_id,
            name=item.name,
            price_cents=item.price_cents,
            options=dict(item.options),
        )
        for i, item in enumerate(order.items)
    ]
    row.fulfillments = [
        Fulfillment(
            position=i,
            tracking_ids=[f.tracking_id],
            item_ids=list(f.item_ids),
            carrier=f.carrier,
            shipped_at=f.shipped_at,
            estimated_delivery=f.estimated_delivery,
            delivered_at=f.delivered_at,
        )
        for i, f in enumerate(order.fulfillments)
    ]
    row.transactions = [
        PaymentTransaction(
            position=i,
            transaction_type=t.transaction_type,
            amount_cents=t.amount_cents,
            payment_method_id=t.payment_method_id,
            created_at=t.created_at,
        )
        for i, t in enumerate(order.transactions)
    ]
    refunds = [
        Refund(
            order_id=order.id,
            payment_method_id=r.payment_method_id,
            amount_cents=r.amount_cents,
            reason=r.reason,
            status=r.status,
            created_at=r.created_at,
            expected_by=r.expected_by,
        )
        for r in order.refunds
    ]
    return row, refunds


def _rows(shop: DemoShop) -> tuple[list[Product], list[Customer], list[Refund]]:
    products = []
    for p in shop.products:
        product = Product(
            id=p.product_id, name=p.name, description=p.description, updated_at=shop.now
        )
        product.variants = [
            Variant(
                id=v.item_id,
                position=i,
                options=dict(v.options),
                price_cents=v.price_cents,
                available=v.available,
                stock=v.stock,
            )
            for i, v in enumerate(p.variants)
        ]
        products.append(product)
    customers: list[Customer] = []
    refunds: list[Refund] = []
    for c in shop.customers:
        customer = Customer(
            id=c.id,
            first_name=c.first_name,
            last_name=c.last_name,
            email=c.email,
            created_at=c.created_at,
            **_address_columns(c.address),
        )
        customer.payment_methods = [
            PaymentMethod(
                id=m.id,
                position=i,
                source=m.source,
                brand=m.brand,
                last_four=m.last_four,
                balance_cents=m.balance_cents,
            )
            for i, m in enumerate(c.payment_methods)
        ]
        for o in c.orders:
            order, order_refunds = _order_row(o)
            customer.orders.append(order)
            refunds.extend(order_refunds)
        customers.append(customer)
    return products, customers, refunds


def seed_demo_shop(store: Store, seed: int = 7, *, now: datetime | None = None) -> dict[str, int]:
    """Write the demo shop for ``seed`` into ``store`` (schema already created) in one transaction.

    Returns the counts written (products, variants, customers, orders). Raises ``ValueError`` if the
    store already holds customers or products; resetting it is the caller's decision.
    """
    shop = generate_demo_shop(seed, now=now)
    products, customers, refunds = _rows(shop)
    with store.write() as session:
        if session.scalars(select(Customer.id).limit(1)).first() is not None:
            raise ValueError(
                "The store already has customers; reset it before seeding the demo shop."
            )
        if session.scalars(select(Product.id).limit(1)).first() is not None:
            raise ValueError(
                "The store already has products; reset it before seeding the demo shop."
            )
        session.add_all(products)
        session.add_all(customers)
        # Refunds have no relationship to their order; flush orders first so their ids exist.
        session.flush()
        session.add_all(refunds)
    return shop.counts()


def demo_docs_dir() -> Path:
    """The folder of the demo shop's policy and FAQ documents (Markdown), for the knowledge base."""
    return _DOCS_DIR


__all__ = [
    "REFERENCE_NOW",
    "DemoCustomer",
    "DemoOrder",
    "DemoProduct",
    "DemoShop",
    "demo_docs_dir",
    "generate_demo_shop",
    "seed_demo_shop",
]
