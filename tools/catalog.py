"""Catalog and inventory: products, their variants (items), availability and stock. Public data: no
authentication needed."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tools.context import ToolContext
from tools.errors import InvalidArgumentError, ItemNotFoundError, ProductNotFoundError
from tools.models import Product, Variant
from tools.registry import register
from tools.views import dollars, product_view, variant_view

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    words = set(_WORD.findall(text.lower()))
    # Crude plural folding so "headphones" finds "Headphones" and "kettles" finds "Electric Kettle".
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s")}


def _product(s: Session, product_id: str) -> Product:
    product = s.get(Product, product_id.strip(), options=[selectinload(Product.variants)])
    if product is None:
        raise ProductNotFoundError(
            f"Product {product_id} was not found (product ids differ from item ids)."
        )
    return product


@register("read", "catalog")
def get_product_details(ctx: ToolContext, product_id: str) -> dict[str, Any]:
    """Get the inventory details of a product: every variant with its options, availability and price.

    Args:
        product_id: The product id, such as '6086499569'. Be careful the product id is different
            from the item id.
    """
    with ctx.store.read() as s:
        return product_view(_product(s, product_id))


@register("read", "catalog")
def get_item_details(ctx: ToolContext, item_id: str) -> dict[str, Any]:
    """Get the inventory details of one item (a product variant).

    Args:
        item_id: The item id, such as '6086499569'. Be careful the item id is different from the
            product id.
    """
    with ctx.store.read() as s:
        variant = s.get(Variant, item_id.strip())
        if variant is None:
            raise ItemNotFoundError(
                f"Item {item_id} was not found (item ids differ from product ids)."
            )
        view = variant_view(variant)
        view["product_id"] = variant.product_id
        view["product_name"] = variant.product.name
        return view


@register("read", "catalog")
def list_all_product_types(ctx: ToolContext) -> dict[str, str]:
    """List the name and product id of every product type, sorted by name."""
    with ctx.store.read() as s:
        rows = s.execute(select(Product.name, Product.id).order_by(Product.name)).all()
    return dict(rows)


@register("read", "catalog")
def search_products(ctx: ToolContext, query: str, limit: int = 5) -> list[dict[str, Any]]:
    """Find products by words in their name, description or options, best match first.

    Args:
        query: What the customer is looking for, such as 'wireless headphones' or 'red kettle'.
        limit: How many products to return (1-20).
    """
    wanted = _words(query)
    if not wanted:
        raise InvalidArgumentError("Say what to search for, such as 'wireless headphones'.")
    limit = max(1, min(int(limit), 20))
    index = _search_index(ctx)
    scored: list[tuple[float, str, str]] = []
    for pid, (name, name_words, other_words) in index.items():
        score = 2.0 * len(wanted & name_words) + len(wanted & other_words)
        if score:
            scored.append((score / len(wanted), name, pid))
    scored.sort(key=lambda row: (-row[0], row[1]))
    top = scored[:limit]
    with ctx.store.read() as s:
        variants = s.execute(
            select(Variant.product_id, Variant.price_cents, Variant.available, Variant.stock).where(
                Variant.product_id.in_([pid for _, _, pid in top])
            )
        ).all()
    results = []
    for score, name, pid in top:
        rows = [v for v in variants if v.product_id == pid]
        prices = [v.price_cents for v in rows]
        results.append(
            {
                "product_id": pid,
                "name": name,
                "score": round(score, 2),
                "variants": len(rows),
                "available_variants": sum(1 for v in rows if v.available and v.stock != 0),
                "price_range": [dollars(min(prices)), dollars(max(prices))] if prices else [],
            }
        )
    return results


_Index = dict[str, tuple[str, set[str], set[str]]]
_INDEXES: dict[str, tuple[tuple[Any, ...], _Index]] = {}


def _search_index(ctx: ToolContext) -> _Index:
    """Words of each product's name and of its description and options, rebuilt only when the catalog
    changes (products or variants added, or a product's ``updated_at`` moved)."""
    with ctx.store.read() as s:
        version = tuple(
            s.execute(
                select(func.count(Variant.id), func.count(func.distinct(Variant.product_id)))
            ).one()
        ) + (s.scalar(select(func.max(Product.updated_at))),)
        key = ctx.store.url.render_as_string(hide_password=False)
        cached = _INDEXES.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        products = s.execute(select(Product.id, Product.name, Product.description)).all()
        options = s.execute(select(Variant.product_id, Variant.options)).all()
    other: dict[str, set[str]] = {}
    for pid, opts in options:
        other.setdefault(pid, set()).update(w for val in opts.values() for w in _words(str(val)))
    index = {
        pid: (name, _words(name), _words(description) | other.get(pid, set()))
        for pid, name, description in products
    }
    _INDEXES[key] = (version, index)
    return index


@register("read", "catalog")
def check_availability(
    ctx: ToolContext, product_id: str, options: dict[str, str] | None = None
) -> dict[str, Any]:
    """Which variants of a product match the given options and can be ordered now (with stock counts
    where the shop tracks them).

    Args:
        product_id: The product id, such as '6086499569'.
        options: Option values to match, case-insensitive, such as {'color': 'red', 'size': 'M'}.
    """
    wanted = {k.strip().lower(): str(v).strip().lower() for k, v in (options or {}).items()}
    with ctx.store.read() as s:
        product = _product(s, product_id)
        known = {k.lower() for v in product.variants for k in v.options}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise InvalidArgumentError(
                f"{product.name} has no option {', '.join(unknown)}; it has {', '.join(sorted(known))}."
            )
        matches = [
            v
            for v in product.variants
            if all(
                {k.lower(): str(val).lower() for k, val in v.options.items()}.get(key) == value
                for key, value in wanted.items()
            )
        ]
        return {
            "product_id": product.id,
            "name": product.name,
            "options": wanted,
            "in_stock": [variant_view(v) for v in matches if v.available and v.stock != 0],
            "unavailable": [variant_view(v) for v in matches if not (v.available and v.stock != 0)],
        }


ALL_TOOLS = [
    get_product_details,
    get_item_details,
    list_all_product_types,
    search_products,
    check_availability,
]
