from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from knowledge import Embedder
from tests.knowledge.helpers import add_products
from tools.settings import get_settings
from tools.store import Store

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Iterator[str]:
    """The CLI's settings point at a temporary var dir and a small store; yields the store URL."""
    for name in ("CONCIERGE_CHROMA_URL", "CONCIERGE_CHROMA_DIR", "CONCIERGE_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at 80 columns when not on a terminal
    url = f"sqlite:///{tmp_path}/shop.db"
    store = Store(url)
    store.migrate()
    add_products(store)
    store.dispose()
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_ingest_stats_and_search(tmp_path: Path, env: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\n## Window\n\nThirty days from delivery.\n")
    code, out = invoke("kb", "ingest", str(docs), "--catalog", "--store", env)
    assert code == 0, out
    assert "Documents: 1 added" in out and "2 added" in out

    code, out = invoke("kb", "ingest", str(docs))
    assert code == 0 and "1 unchanged" in out and "0 embedded" in out

    code, out = invoke("kb", "stats")
    assert code == 0, out
    assert "sources: product" in out and "from: catalog" in out

    code, out = invoke("kb", "search", "how many days after delivry can I return it", "-k", "2")
    assert code == 0, out
    assert "returns.md#window" in out and "Searched as:" in out and "delivery" in out

    code, out = invoke("kb", "search", "what's the capital of France?", "--mode", "dense")
    assert code == 0 and "not covered" in out

    code, out = invoke("kb", "search", "lamp", "--doc-type", "product", "--text")
    assert code == 0 and "catalog/1000000001" in out and "returns.md" not in out


def test_defaults_ingest_the_demo_docs_and_the_catalog(env: str) -> None:
    code, out = invoke("kb", "ingest", "--defaults", "--store", env)
    assert code == 0, out
    # Only customer-facing documents: tau2's agent policy is not quoted to the demo shop's customers.
    assert "Documents: 8 added" in out and "Catalog of" in out
    code, out = invoke(
        "kb", "search", "what does the agent policy say about pending orders", "-k", "5"
    )
    assert code == 0 and "tau2/" not in out
    code, out = invoke("kb", "search", "does the thermostat work with google home", "-k", "1")
    assert "demo/faq.md#does-the-smart-thermostat-work-with-google-home" in out


def test_errors_are_short_messages(tmp_path: Path, env: str) -> None:
    bad = tmp_path / "faq.jsonl"
    bad.write_text("{oops\n")
    code, out = invoke("kb", "ingest", str(bad))
    assert code == 2 and "faq.jsonl, line 1: invalid JSON" in out
    code, out = invoke("kb", "ingest")
    assert code == 2 and "--defaults" in out
    code, out = invoke("kb", "search", "x", "--mode", "sparse")
    assert code == 2 and "mode must be one of" in out
