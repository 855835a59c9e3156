"""The app as a whole: its API docs (/docs, /redoc) are served with their own scripts and styles, so
they work offline and behind a firewall."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Service

_ASSET = re.compile(
    r"""(?:src|href)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]|['"](https?://[^'"]+)['"]"""
)


@pytest.mark.parametrize(("page", "kinds"), [("/docs", {"js", "css"}), ("/redoc", {"js"})])
def test_the_api_docs_load_everything_from_this_server(
    service: Service, page: str, kinds: set[str]
) -> None:
    r = service.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = {next(u for u in m.groups() if u) for m in _ASSET.finditer(r.text)}
    assert urls, r.text
    # Same origin only: nothing from a CDN, no protocol-relative URL.
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "cdn" not in r.text.lower()
    seen = set()
    for url in urls:
        asset = service.client.get(url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"]
        if url.endswith(".js"):
            assert "javascript" in kind and len(asset.content) > 100_000, url
            seen.add("js")
        elif url.endswith(".css"):
            assert kind.startswith("text/css") and len(asset.content) > 10_000, url
            seen.add("css")
    assert kinds <= seen
