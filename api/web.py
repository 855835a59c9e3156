"""What a browser loads: the embeddable chat widget (``/widget.js``, ``/widget.css``), the demo shop
page at ``/`` that embeds it, the demo shop's help pages that the widget's citations link to, and the
human agents' console at ``/console`` (a static page whose script calls the ``/v1/agent`` endpoints
with the staff key pasted into it)."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from api.deps import RuntimeDep
from api.errors import NotFound
from knowledge import slugify
from tools.demo import demo_docs_dir
from tools.models import Customer, Order, Product
from tools.store import Store

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The widget's URL does not change between releases, so a browser keeps it a short while and then
# revalidates it with its ETag (a 304 costs one round trip, not the script).
_ASSET_CACHE = "public, max-age=600, must-revalidate"
# The demo page shows what is in the store now; the help pages change with the deployment.
_PAGE_CACHE = "no-cache"
_HELP_CACHE = "public, max-age=600"
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_DOC_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.md")


@dataclass(frozen=True)
class Asset:
    """A static file held in memory with its content type and a strong ETag."""

    body: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, name: str, media_type: str) -> Asset:
        body = (STATIC_DIR / name).read_bytes()
        return cls(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:20]}"')

    def response(self, request: Request) -> Response:
        headers = {
            "ETag": self.etag,
            "Cache-Control": _ASSET_CACHE,
            "X-Content-Type-Options": "nosniff",
            # The widget is embedded by shops on other origins.
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if self.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CONSOLE_PAGE = (STATIC_DIR / "console.html").read_text(encoding="utf-8")
_PAGE = Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
_HELP_PAGE = Template((STATIC_DIR / "help.html").read_text(encoding="utf-8"))

# Each script and style sheet at the root (``/widget.js``), served from memory with its ETag.
for _name in ("widget.js", "widget.css", "demo.css", "console.js", "console.css"):
    router.add_api_route(
        f"/{_name}", Asset.load(_name, _MEDIA_TYPES[Path(_name).suffix]).response, methods=["GET"]
    )


@router.get("/console")
def agent_console() -> Response:
    """The human agents' console: the ticket queue, a ticket's handoff package and conversation,
    and the actions on it. The page holds no data; the staff key pasted into it opens the API."""
    return _page(_CONSOLE_PAGE, _PAGE_CACHE)


def _page(body: str, cache: str) -> Response:
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": cache,
            "Content-Security-Policy": _PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def _price(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _product_section(store: Store | None) -> str:
    """The first product (by name) with a variant for sale, as an HTML fragment."""
    if store is None:
        return "<p>This shop has no catalog configured.</p>"
    with store.read() as s:
        for product in s.scalars(select(Product).order_by(Product.name)):
            on_sale = [v for v in product.variants if v.available]
            if not on_sale:
                continue
            low = min(v.price_cents for v in on_sale)
            rows = "".join(
                "<li>{options} &middot; {price} &middot; {stock}</li>".format(
                    options=html.escape(", ".join(f"{k}: {v}" for k, v in v.options.items())),
                    price=html.escape(_price(v.price_cents)),
                    stock="in stock" if v.available else "sold out",
                )
                for v in product.variants
            )
            return (
                f"<h2>{html.escape(product.name)}</h2>"
                f'<p class="price">from {html.escape(_price(low))}</p>'
                f"<p>{html.escape(product.description or '')}</p>"
                f'<h3>Options</h3><ul class="variants">{rows}</ul>'
                '<button type="button" disabled>Add to cart (demo)</button>'
            )
    return "<p>The catalog is empty: seed the demo shop to see a product here.</p>"


def _demo_customer(store: Store | None) -> str:
    """A demo customer's e-mail and one of their orders, so a visitor can sign in in the chat."""
    if store is None:
        return ""
    with store.read() as s:
        order = s.scalars(
            select(Order).where(Order.status == "delivered").order_by(Order.id).limit(1)
        ).first()
        if order is None:
            return ""
        customer = s.get(Customer, order.customer_id)
        if customer is None:
            return ""
        email, order_id = customer.email, order.id
    return (
        f"<li>Ask <q>Where is my order {html.escape(order_id)}?</q> The assistant asks who you "
        f"are: answer with the demo customer's e-mail, <code>{html.escape(email)}</code>.</li>"
    )


@router.get("/")
def demo_page(runtime: RuntimeDep) -> Response:
    """The demo shop's product page with the chat widget embedded."""
    store = runtime.agent.context.store
    body = _PAGE.substitute(
        product=_product_section(store),
        demo_customer=_demo_customer(store),
    )
    return _page(body, _PAGE_CACHE)


def _plain(text: str) -> str:
    """Markdown emphasis and code marks dropped: the help page shows the words."""
    return re.sub(r"\*\*|(?<!\w)[*_`]|[*_`](?!\w)", "", text)


def _markdown_lines(text: str) -> str:
    """The demo docs' plain Markdown as HTML: headings (with the anchors citations use),
    bullet lists and paragraphs; everything else shown as written, escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{html.escape(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#"):
            flush()
            level = min(len(line) - len(line.lstrip("#")), 6)
            title = line.lstrip("#").strip()
            anchor = html.escape(slugify(title))
            out.append(f'<h{level} id="{anchor}">{html.escape(_plain(title))}</h{level}>')
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(_plain(line[2:]))
        elif items:
            items[-1] += " " + _plain(line)
        else:
            paragraph.append(_plain(line))
    flush()
    return "\n".join(out)


@router.get("/help/demo/{name}")
def demo_help(name: str) -> Response:
    """One of the demo shop's policy documents, the target of the widget's citation links."""
    path = demo_docs_dir() / name
    if not _DOC_NAME.fullmatch(name) or not path.is_file():
        raise NotFound(f"No help page {name!r}.", code="unknown_help_page")
    text = path.read_text(encoding="utf-8")
    title = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("#")), name)
    body = _HELP_PAGE.substitute(title=html.escape(title), content=_markdown_lines(text))
    return _page(body, _HELP_CACHE)
