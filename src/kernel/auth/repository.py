"""All SQL of accounts, roles and refresh tokens. Functions add and flush; the caller's unit of work commits."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth.models import RefreshToken, User, UserRole


async def get_user(session: AsyncSession, user_id: UUID) -> User | None:
    return await session.get(User, user_id)


async def user_by_email_key(session: AsyncSession, key: str) -> User | None:
    return (await session.exec(select(User).where(User.email_key == key))).first()


async def roles_of(session: AsyncSession, user_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
    """The roles of each user in ``user_ids``, sorted (users without a role are absent)."""
    if not user_ids:
        return {}
    rows = await session.exec(select(UserRole).where(col(UserRole.user_id).in_(user_ids)).order_by(col(UserRole.role)))
    found: dict[UUID, list[str]] = {}
    for row in rows:
        found.setdefault(row.user_id, []).append(row.role)
    return found


async def identity_rows(session: AsyncSession, user_id: UUID) -> Sequence[Any]:
    """``(id, email, display_name, locale, role|None)`` rows of one user, one per role, in a single statement
    (``user LEFT JOIN role``): what authenticating a request reads."""
    query = (
        select(User.id, User.email, User.display_name, User.locale, UserRole.role)  # type: ignore[call-overload]
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(col(User.id) == user_id)
    )
    return list((await session.exec(query)).all())


async def add_user(session: AsyncSession, user: User, roles: Sequence[str]) -> None:
    session.add(user)
    await session.flush()
    for role in sorted(set(roles)):
        session.add(UserRole(user_id=user.id, role=role))
    await session.flush()


async def set_password_hash(session: AsyncSession, user_id: UUID, password_hash: str, now: datetime) -> None:
    await session.exec(update(User).where(col(User.id) == user_id).values(password_hash=password_hash, updated_at=now))


async def replace_roles(session: AsyncSession, user_id: UUID, roles: Sequence[str]) -> None:
    """Make ``roles`` the user's complete set. The user's row is locked first (``FOR UPDATE``; on SQLite the
    writer's ``BEGIN IMMEDIATE`` already serialises): without it two concurrent replacements on PostgreSQL both
    delete the old rows, then collide on the primary key (500) or leave a mixture of both sets."""
    await session.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
    await session.exec(delete(UserRole).where(col(UserRole.user_id) == user_id))
    for role in sorted(set(roles)):
        session.add(UserRole(user_id=user_id, role=role))
    await session.flush()


async def list_users(session: AsyncSession, *, role: str | None, after: str | None, limit: int) -> Sequence[User]:
    """Users ordered by ``email_key``, those after ``after``; ``limit + 1`` rows so the caller knows if more exist."""
    query = select(User).order_by(col(User.email_key)).limit(limit + 1)
    if role is not None:
        query = query.where(col(User.id).in_(select(UserRole.user_id).where(UserRole.role == role)))
    if after is not None:
        query = query.where(col(User.email_key) > after)
    return (await session.exec(query)).all()


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return (await session.exec(select(RefreshToken).where(RefreshToken.token_hash == token_hash))).first()


async def mark_used(session: AsyncSession, token_id: UUID, now: datetime) -> bool:
    """Mark a live token used, atomically: False when it was already used, revoked or expired (a race lost)."""
    result = await session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == token_id,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .values(used_at=now)
    )
    return bool(result.rowcount == 1)


async def revoke_family(session: AsyncSession, user_id: UUID, family_id: UUID, now: datetime) -> int:
    """Revoke every token of one session; the number of tokens revoked now."""
    result = await session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.family_id) == family_id,
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def active_sessions(session: AsyncSession, user_id: UUID, now: datetime) -> Sequence[Any]:
    """``(family_id, started_at, last_used_at, expires_at)`` of each session with a live refresh token."""
    started = (
        select(RefreshToken.family_id, func.min(RefreshToken.issued_at).label("started_at"))
        .where(RefreshToken.user_id == user_id)
        .group_by(col(RefreshToken.family_id))
        .subquery()
    )
    query = (
        select(
            RefreshToken.family_id,
            started.c.started_at,
            RefreshToken.issued_at,
            RefreshToken.expires_at,
        )
        .join(started, started.c.family_id == RefreshToken.family_id)
        .where(
            RefreshToken.user_id == user_id,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .order_by(col(RefreshToken.issued_at).desc())
    )
    return (await session.exec(query)).all()


async def session_owner(session: AsyncSession, family_id: UUID) -> UUID | None:
    """The user a session (refresh-token family) belongs to, or ``None`` when there is no such session."""
    return (
        await session.exec(select(RefreshToken.user_id).where(RefreshToken.family_id == family_id).limit(1))
    ).first()
