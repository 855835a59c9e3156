"""Where conversations are checkpointed: a SQLite file by default, PostgreSQL at scale."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from tools.settings import Settings

_SETUP_LOCK = 0x636F6E63  # PostgreSQL advisory lock key held while the checkpoint tables are set up


class Checkpointer:
    """An open checkpointer and the connection behind it; ``close()`` when done."""

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


def open_checkpointer(url: str | None = None, settings: Settings | None = None) -> Checkpointer:
    """The checkpointer for ``url`` (default: ``CONCIERGE_CHECKPOINT_URL``, else
    ``var_dir/checkpoints.db``): ``sqlite:///path`` or ``postgresql://...``."""
    if url is None:
        from tools.settings import get_settings

        settings = settings or get_settings()
        url = settings.checkpoint_url or f"sqlite:///{settings.var_dir / 'checkpoints.db'}"
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        pg_saver = PostgresSaver(conn)
        # Replicas starting together would race to create the tables: one sets up at a time. Polled,
        # not waited on: the setup's CREATE INDEX CONCURRENTLY waits for every open transaction,
        # a blocked pg_advisory_lock included, which would deadlock.
        while not _try_lock(conn):
            time.sleep(0.05)
        try:
            pg_saver.setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
        return Checkpointer(pg_saver, conn, url)
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
