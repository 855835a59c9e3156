"""Fixtures for the knowledge tests: the real MiniLM (loaded once), real chroma folders, real stores.

``shop_kb`` is the shared read-only corpus (demo docs + tau2 policy + the demo shop's catalog), ingested
once per session; tests that write get their own ``KnowledgeBase`` in a temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge import Embedder, IngestReport, KnowledgeBase, get_embedder
from tools.demo import demo_docs_dir, seed_demo_shop
from tools.settings import Settings
from tools.store import Store


def kb_settings(var_dir: Path, **overrides: object) -> Settings:
    """Settings for a knowledge base under ``var_dir`` that ignore the developer's .env."""
    values: dict[str, object] = {"var_dir": var_dir, "chroma_url": None, "chroma_dir": None}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The process-wide MiniLM, so the CLI under test reuses it too."""
    return get_embedder()


KBFactory = Callable[..., KnowledgeBase]


@pytest.fixture
def make_kb(tmp_path: Path, embedder: Embedder) -> Iterator[KBFactory]:
    """Makes knowledge bases in this test's temporary folder (same folder: same chroma store);
    closes them after the test."""
    made: list[KnowledgeBase] = []

    def make(**overrides: object) -> KnowledgeBase:
        kb = KnowledgeBase(kb_settings(tmp_path / "var", **overrides), embedder=embedder)
        made.append(kb)
        return kb

    yield make
    for kb in made:
        kb.close()


@dataclass(frozen=True)
class ShopKB:
    kb: KnowledgeBase
    docs: IngestReport
    catalog: IngestReport
    store: Store


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite store holding the demo shop (30 products)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('shop')}/shop.db")
    store.migrate()
    seed_demo_shop(store)
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def shop_kb(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, demo_store: Store
) -> Iterator[ShopKB]:
    """Demo docs, the tau2 policy and the demo catalog, ingested once; do not write to it."""
    settings = kb_settings(tmp_path_factory.mktemp("kb"))
    kb = KnowledgeBase(settings, embedder=embedder)
    policy = settings.tau2_dir / "policy.md"
    if not policy.is_file():  # fail rather than skip, as tests/conftest.py does for the tau2 data
        pytest.fail(f"tau2 policy not found at {policy}: set CONCIERGE_SHARED_DATA_DIR")
    docs = kb.ingest([demo_docs_dir(), policy])
    catalog = kb.sync_catalog(demo_store)
    yield ShopKB(kb, docs, catalog, demo_store)
    kb.close()
