"""The human agents' console at /console: a static page under the strict CSP, and a script that shows
what customers wrote as text only. (Driven in a real browser in test_widget_browser.py.)"""

from __future__ import annotations

import re

from api.web import STATIC_DIR
from tests.api.conftest import Service


def test_the_console_page_is_served_under_the_strict_csp(service: Service) -> None:
    r = service.client.get("/console")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    page = r.text
    assert re.search(r'<script src="/console.js"[^>]*\sdefer>', page)
    assert '<link rel="stylesheet" href="/console.css">' in page
    # Nothing inline for the CSP to block: no inline scripts, styles or handlers.
    assert "<script>" not in page and "style=" not in page and "<style" not in page
    assert not re.search(r"\son[a-z]+=", page)
    # The controls the script looks up by id are all on the page.
    script = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    for element_id in re.findall(r'\$\("([a-z-]+)"\)', script):
        assert f'id="{element_id}"' in page, element_id


def test_the_console_never_writes_html() -> None:
    """Tickets, transcripts and replies are shown as text: the script has no way in for markup."""
    source = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(")
    for sink in sinks:
        assert sink not in source
    assert "textContent" in source
    # The key goes only to this origin's API and stays in this tab.
    assert "localStorage" not in source and "sessionStorage" in source
    assert not re.search(r"fetch\(\s*[\"'`]https?:", source)
