"""Alembic environment: async engines, batch mode on SQLite, the models' metadata as the target.

The URL comes from ``config.attributes["url"]`` (set by ``src.migrations.upgrade``) or from the ``LAOCAI_*``
settings. A caller may also hand over an open sync connection as ``config.attributes["connection"]``.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import src.models  # noqa: F401  (registers every table on the metadata)
from src.kernel.config import Settings
from src.kernel.db import create_engine, metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or Settings().effective_database_url
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    context.configure(url=Settings().effective_database_url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
