"""Alembic migrations and the helpers that run them from code (``laocai db upgrade``, ``laocai serve``, tests)."""

from alembic import command
from alembic.config import Config

from src.kernel.config import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    """The Alembic configuration of this project, pointed at ``url`` (a SQLAlchemy async URL)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; from async code call it through ``asyncio.to_thread``)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision`` (blocking)."""
    command.downgrade(alembic_config(url), revision)
