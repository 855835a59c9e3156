"""The store's connection: one engine, read and write sessions, and migrations.

SQLite is the embedded default and PostgreSQL the scale option; the same code runs on both. Writes take
their locks up front (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL) so that two
concurrent retries of one write serialise instead of both applying.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tools.models import Base

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take a write lock up front; take over
    # from it so write sessions can BEGIN IMMEDIATE (documented SQLAlchemy recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """A handle on one commerce database. Cheap to share between threads; sessions are not."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            else:
                # An in-memory database lives per connection; keep a single one for the process.
                kwargs["connect_args"] = {"check_same_thread": False}
                from sqlalchemy.pool import StaticPool

                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        write_bind: Engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            write_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(write_bind, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it changes is committed. Objects loaded in it stay readable
        (detached) after the block."""
        with self._reads() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on any error."""
        with self._writes() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
        from alembic import command

        command.upgrade(alembic_config(self), "head")

    def is_migrated(self) -> bool:
        return inspect(self.engine).has_table("alembic_version")

    def drop_all(self) -> None:
        """Remove every table (tests and ``shop seed --reset``)."""
        Base.metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(store: Store) -> Any:
    """An Alembic ``Config`` bound to ``store``, for programmatic upgrades and checks."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS_DIR))
    cfg.attributes["engine"] = store.engine
    return cfg


def open_store(url: str | None = None) -> Store:
    """The store at ``url`` (default: the configured one), migrated to the newest schema."""
    from tools.settings import get_settings

    store = Store(url or get_settings().resolved_store_url)
    store.migrate()
    return store


__all__ = ["Store", "alembic_config", "open_store"]
