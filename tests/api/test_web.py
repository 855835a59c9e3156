"""What a browser loads from the service: the widget's files with their types and cache headers, the
demo shop page built from the store, and the help pages that citations link to."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from api.web import STATIC_DIR
from tests.agent.conftest import find_order
from tests.api.conftest import Service, sse_events
from tools.models import Product


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/widget.css", "text/css; charset=utf-8"),
        ("/demo.css", "text/css; charset=utf-8"),
        ("/console.js", "text/javascript; charset=utf-8"),
        ("/console.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_have_their_type_and_revalidate_by_etag(
    service: Service, path: str, media_type: str
) -> None:
    r = service.client.get(path)
    assert r.status_code == 200 and r.content
    assert r.headers["content-type"] == media_type
    assert r.content == (STATIC_DIR / path.lstrip("/")).read_bytes()
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age=600" in r.headers["cache-control"]
    etag = r.headers["etag"]
    again = service.client.get(path, headers={"If-None-Match": f'W/"other", {etag}'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    changed = service.client.get(path, headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and changed.content == r.content


def test_the_widget_never_writes_html() -> None:
    """Messages are shown as text: the script has no way in for markup."""

    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source


def test_the_demo_page_shows_a_product_and_a_customer_who_can_sign_in(service: Service) -> None:
    r = service.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert re.search(r'<script src="/widget.js"[^>]*\sdefer>', page)
    assert "<script>" not in page and "style=" not in page  # nothing inline for the CSP to block
    with service.store.read() as s:
        products = s.scalars(select(Product).order_by(Product.name)).all()
        shown = next(p for p in products if any(v.available for v in p.variants))
        name = shown.name
    assert f"<h2>{html.escape(name)}</h2>" in page
    order, customer = find_order(service.store, "delivered")
    assert f"<code>{html.escape(customer.email)}</code>" in page
    assert f"Where is my order {html.escape(order.id)}?" in page


def test_every_cited_passage_links_to_a_help_page_section(service: Service) -> None:
    cid, auth = service.start()
    r = service.client.post(
        f"/v1/conversations/{cid}/messages/stream",
        json={"text": "what is your return policy?"},
        headers=auth,
    )
    cited = [d for n, d in sse_events(r.text) if n == "citation"]
    assert cited
    for citation in cited:
        page = service.client.get(f"/help/{citation['source']}")
        assert page.status_code == 200, citation
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert f'id="{citation["anchor"]}"' in page.text, citation


@pytest.mark.parametrize(
    "path",
    [
        "/help/demo/nothing-here.md",
        "/help/demo/..%2Fstore.py",
        "/help/demo/%2E%2E%2F%2E%2E%2Fpyproject.toml",
        "/help/demo/FAQ.MD",
    ],
)
def test_only_the_demo_documents_are_served_as_help(service: Service, path: str) -> None:
    r = service.client.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["message"]


def test_the_help_page_escapes_the_document() -> None:
    from api.web import _markdown_lines

    out = _markdown_lines("# Returns <b>now</b>\n\n- **Shoes** & boots\n  continued\n\nA <script>x")
    assert '<h1 id="returns-bnowb">Returns &lt;b&gt;now&lt;/b&gt;</h1>' in out
    assert "<li>Shoes &amp; boots continued</li>" in out
    assert "<p>A &lt;script&gt;x</p>" in out
