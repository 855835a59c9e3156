"""Where conversations are checkpointed: a SQLite file by default, PostgreSQL at scale."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from tools.settings import Settings

_SETUP_LOCK = 0x636F6E63  # PostgreSQL advisory lock key held while the checkpoint tables are set up
_RECONNECT_TIMEOUT_S = 10.0


class Checkpointer:
    """An open checkpointer and the connection (or PostgreSQL pool) behind it; ``close()`` when
    done."""

    def __init__(self, saver: BaseCheckpointSaver[str], connection: Any, url: str) -> None:
        self.saver = saver
        self.url = url
        self._connection = connection

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _try_lock(conn: Any) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_SETUP_LOCK,)).fetchone()
    return bool(row["ok"])


def open_checkpointer(
    url: str | None = None, settings: Settings | None = None, *, pool_timeout_s: float = 5.0
) -> Checkpointer:
    """The checkpointer for ``url`` (default: ``CONCIERGE_CHECKPOINT_URL``, else
    ``var_dir/checkpoints.db``): ``sqlite:///path`` or ``postgresql://...``.

    On PostgreSQL, connections come from a pool that checks each one before lending it and
    replaces any that died (a restarted server, a terminated backend). A checkpoint read or write
    waits up to ``pool_timeout_s`` for one, then raises ``psycopg_pool.PoolTimeout`` (a
    ``psycopg.OperationalError``)."""
    if url is None:
        from tools.settings import get_settings

        settings = settings or get_settings()
        url = settings.checkpoint_url or f"sqlite:///{settings.var_dir / 'checkpoints.db'}"
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import ConnectionPool

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        # PostgresSaver runs its queries one at a time under its own lock: one connection serves
        # it, and the pool is what replaces that connection when it dies.
        pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
            conninfo,
            connection_class=Connection[DictRow],
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            min_size=1,
            max_size=1,
            check=ConnectionPool.check_connection,
            timeout=pool_timeout_s,
            # A dead server is retried with a growing delay. Giving up after a few seconds lets the
            # next request start over with an immediate attempt, so the pool is back within
            # seconds of the database however long it was gone (not minutes, as by default).
            reconnect_timeout=_RECONNECT_TIMEOUT_S,
            name="checkpoints",
            open=True,
        )
        try:
            with pool.connection() as conn:
                # Replicas starting together would race to create the tables: one sets up at a
                # time. Polled, not waited on: the setup's CREATE INDEX CONCURRENTLY waits for
                # every open transaction, a blocked pg_advisory_lock included, which would
                # deadlock. The setup runs on the connection holding the lock.
                while not _try_lock(conn):
                    time.sleep(0.05)
                try:
                    PostgresSaver(conn).setup()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
        except BaseException:
            pool.close()
            raise
        return Checkpointer(PostgresSaver(pool), pool, url)
    if not url.startswith("sqlite:///"):
        raise ValueError(f"unsupported checkpoint URL {url!r}: use sqlite:///path or postgresql://")
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection shared by the graph's threads; SqliteSaver serialises access with its own lock.
    conn_sqlite = sqlite3.connect(str(path), check_same_thread=False)
    sqlite_saver = SqliteSaver(conn_sqlite)
    sqlite_saver.setup()
    return Checkpointer(sqlite_saver, conn_sqlite, url)
