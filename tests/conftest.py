"""Shared fixtures: real stores on SQLite and on the local PostgreSQL, seeded from the tau2 retail data,
and one tiny classifier trained per test session.

Each test gets its own database cloned from a migrated, seeded template (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests are isolated and fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# Before torch loads: on shared cores, spinning OpenMP threads slow training several times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import psycopg
import pytest

from tools.settings import Settings
from tools.store import Store
from tools.tau2 import import_tau2

if TYPE_CHECKING:
    from classifiers.pipeline import TrainResult

REPO = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "CONCIERGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def tau2_db_path() -> Path:
    path = Settings().tau2_dir / "db.json"
    if not path.exists():
        pytest.fail(f"tau2 retail data not found at {path}: set CONCIERGE_SHARED_DATA_DIR")
    return path


def _ensure_postgres() -> None:
    """Start the local PostgreSQL if it is down (as the README says), rather than skip silently."""
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
        return
    except psycopg.OperationalError:
        pass
    subprocess.run(["bash", str(REPO / ".ci" / "services.sh")], check=False)
    psycopg.connect(ADMIN_URL, connect_timeout=10).close()


def _sqlalchemy_url(libpq_url: str, database: str) -> str:
    base = libpq_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


def _pg_admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def terminate_backends(database: str) -> int:
    """Kill every session on ``database`` (as an administrator or a crashed server would), waiting
    until each has gone; how many there were."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


@contextmanager
def database_down(database: str) -> Iterator[None]:
    """``database`` unreachable while the block runs: its sessions killed and new ones refused."""
    _pg_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        terminate_backends(database)
        yield
    finally:
        _pg_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


class StoreFactory:
    """Makes fresh stores of one backend, each a copy of a seeded template."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self._templates: dict[str, str] = {}
        self._created: list[str] = []

    def _template(self, seed: str) -> str:
        if seed in self._templates:
            return self._templates[seed]
        name = f"tmpl_{seed}_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.db"
            store = Store(f"sqlite:///{path}")
        else:
            _pg_admin(f'CREATE DATABASE "{name}"')
            self._created.append(name)
            store = Store(_sqlalchemy_url(ADMIN_URL, name))
        store.migrate()
        if seed == "tau2":
            import_tau2(store, tau2_db_path())
        store.dispose()
        self._templates[seed] = name
        return name

    def __call__(self, seed: str = "tau2") -> Store:
        template = self._template(seed)
        name = f"t_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            # Checkpointed WAL: the template file alone holds the data.
            shutil.copy(self.workdir / f"{template}.db", self.workdir / f"{name}.db")
            return Store(f"sqlite:///{self.workdir / name}.db")
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._created.append(name)
        return Store(_sqlalchemy_url(ADMIN_URL, name))

    def close(self) -> None:
        for name in reversed(self._created):
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreFactory]:
    backend: str = request.param
    if backend == "postgres":
        _ensure_postgres()
    factory = StoreFactory(backend, tmp_path_factory.mktemp(backend))
    yield factory
    factory.close()


@pytest.fixture
def tau2_store(store_factory: StoreFactory) -> Iterator[Store]:
    """A store holding the tau2 retail shop (50 products, 500 users, 1000 orders), fresh per test."""
    store = store_factory("tau2")
    yield store
    store.dispose()


@pytest.fixture
def empty_store(store_factory: StoreFactory) -> Iterator[Store]:
    """A migrated store with no data, fresh per test."""
    store = store_factory("empty")
    yield store
    store.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the local PostgreSQL (started if down), dropped after the test."""
    _ensure_postgres()
    name = f"t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The test preset with twice its Bitext rows plus our own labeled files (return, exchange and
# availability wording, plain customer phrasing), each once: enough for the agent's flows to be driven
# by what the classifier reads, for about twice the preset's training time.
TINY_CORPUS = {"own_files": True, "new_rows": False, "own_repeat": 1, "max_train_per_intent": 24}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A tiny classifier trained once per test session (about 1,300 rows, two short epochs) on
    the real packaged MiniLM and the real datasets, shared by the classifier and agent tests."""
    from classifiers.pipeline import train_classifier

    return train_classifier(
        "test",
        output_dir=tmp_path_factory.mktemp("models") / "classifier",
        corpus_overrides=TINY_CORPUS,
    )
