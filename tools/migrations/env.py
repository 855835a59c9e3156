"""Alembic environment: runs against the engine the caller put in ``config.attributes['engine']``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from tools.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from tools.settings import get_settings

        url = get_settings().resolved_store_url
    return create_engine(url)


def run_migrations_offline() -> None:
    context.configure(
        url=str(_engine().url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        # SQLite cannot ALTER most things in place: batch mode rebuilds tables where needed.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together migrate one at a time; the later ones find it done.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(1668246883)")
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
