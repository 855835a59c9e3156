"""The shop's catalog as documents: one per product, with every variant's options, price and stock.

Stock and availability are part of the text, so a stock change changes the document's hash and the
next :meth:`KnowledgeBase.sync_catalog` re-embeds exactly the products that changed.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from knowledge.documents import Document
from tools.models import Product, Variant
from tools.store import Store

CATALOG_SCOPE = "catalog"


def catalog_source(product_id: str) -> str:
    return f"{CATALOG_SCOPE}/{product_id}"


def _options(options: dict[str, object]) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items()) or "standard"


def _availability(variant: Variant) -> str:
    if not variant.available:
        return "not available"
    if variant.stock is None:
        return "available"
    if variant.stock == 0:
        return "out of stock"
    return f"in stock ({variant.stock} left)"


def product_document(product: Product, *, language: str = "en") -> Document:
    """The product as a plain-text document (no headings: catalog citations have no anchor)."""
    option_values: dict[str, list[str]] = {}
    for variant in product.variants:
        for key, value in variant.options.items():
            values = option_values.setdefault(key, [])
            if str(value) not in values:
                values.append(str(value))
    available = [v for v in product.variants if v.available and v.stock != 0]
    prices = [v.price_cents for v in product.variants]
    lines = [product.description.strip()] if product.description.strip() else []
    summary = [f"Product id {product.id}."]
    if option_values:
        summary.append(
            "Options: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in option_values.items()) + "."
        )
    if prices:
        low, high = min(prices) / 100, max(prices) / 100
        summary.append(f"Price ${low:.2f}" + (f" to ${high:.2f}." if high != low else "."))
    summary.append(f"{len(available)} of {len(product.variants)} variants can be ordered now.")
    lines.append(" ".join(summary))
    variant_lines = [
        f"- {_options(v.options)}: ${v.price_cents / 100:.2f}, {_availability(v)} (item id {v.id})"
        for v in product.variants
    ]
    if variant_lines:
        lines.append("Variants:\n" + "\n".join(variant_lines))
    updated = product.updated_at
    if updated.tzinfo is None:  # SQLite hands back naive datetimes; the store writes UTC
        updated = updated.replace(tzinfo=UTC)
    return Document(
        source=catalog_source(product.id),
        title=product.name,
        text="\n\n".join(lines),
        doc_type="product",
        language=language,
        updated_at=updated.isoformat(timespec="seconds"),
        markdown=False,
        product_id=product.id,
        scope=CATALOG_SCOPE,
        location=f"store products/{product.id}",
    )


def catalog_documents(store: Store, *, language: str = "en") -> list[Document]:
    """Every product in ``store``, by id."""
    with store.read() as session:
        products = session.scalars(
            select(Product).options(selectinload(Product.variants)).order_by(Product.id)
        ).all()
        return [product_document(p, language=language) for p in products]


__all__ = ["CATALOG_SCOPE", "catalog_documents", "catalog_source", "product_document"]
