from __future__ import annotations

from datetime import UTC, datetime

from knowledge.catalog import catalog_documents, product_document
from tools.models import Product, Variant
from tools.store import Store


def lamp() -> Product:
    product = Product(
        id="1000000001",
        name="Desk Lamp",
        description="A dimmable LED desk lamp.",
        updated_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    product.variants = [
        Variant(
            id="2000000001",
            position=0,
            options={"color": "black"},
            price_cents=4999,
            available=True,
            stock=12,
        ),
        Variant(
            id="2000000002",
            position=1,
            options={"color": "white"},
            price_cents=5299,
            available=True,
            stock=0,
        ),
        Variant(
            id="2000000003",
            position=2,
            options={"color": "red"},
            price_cents=5299,
            available=False,
            stock=None,
        ),
    ]
    return product


def test_a_product_document_lists_every_variant_with_price_and_stock() -> None:
    document = product_document(lamp())
    assert (document.source, document.title, document.doc_type) == (
        "catalog/1000000001",
        "Desk Lamp",
        "product",
    )
    assert (document.product_id, document.scope, document.markdown) == (
        "1000000001",
        "catalog",
        False,
    )
    assert document.updated_at == "2026-10-01T00:00:00+00:00"
    text = document.text
    assert text.startswith("A dimmable LED desk lamp.")
    assert "Options: color: black, white, red." in text
    assert "Price $49.99 to $52.99." in text
    assert "1 of 3 variants can be ordered now." in text
    assert "- color black: $49.99, in stock (12 left) (item id 2000000001)" in text
    assert "- color white: $52.99, out of stock (item id 2000000002)" in text
    assert "- color red: $52.99, not available (item id 2000000003)" in text


def test_stock_changes_change_the_document_hash() -> None:
    product = lamp()
    before = product_document(product).content_hash
    product.variants[0].stock = 11
    assert product_document(product).content_hash != before


def test_catalog_documents_come_from_the_store(demo_store: Store) -> None:
    documents = catalog_documents(demo_store)
    assert len(documents) == 30
    assert all(d.source == f"catalog/{d.product_id}" and d.doc_type == "product" for d in documents)
    assert [d.source for d in documents] == sorted(d.source for d in documents)
