"""The rules of accounts and sessions: register, login, refresh with rotation and reuse detection, logout, roles.

Services add, flush and raise; the request (or the CLI command) owns the transaction. Argon2 runs in a worker
thread so that a login does not stall the event loop for its ~50 ms.
"""

import asyncio
from collections.abc import Sequence
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth import repository
from src.kernel.auth.credentials import (
    Passwords,
    check_password_policy,
    clean_display_name,
    email_key,
    normalise_email,
)
from src.kernel.auth.errors import EmailTaken, InvalidCredentials, InvalidToken, RefreshTokenReused
from src.kernel.auth.guards import ensure_owned
from src.kernel.auth.identity import Identity
from src.kernel.auth.models import RefreshToken, Role, User
from src.kernel.auth.schemas import SessionRead, TokenPair, UserPage, UserRead, UserUpdate
from src.kernel.auth.tokens import REFRESH, TokenCodec, token_digest
from src.kernel.db import utcnow
from src.kernel.errors import InvalidParameter, NotFound
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint

#: The one detail of every failed login, so the body cannot tell an unknown email from a wrong password.
LOGIN_FAILED = "the email or the password is wrong"


def user_read(user: User, roles: Sequence[str]) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        locale=user.locale,
        roles=sorted(roles),
        created_at=user.created_at,
    )


class AuthService:
    """Accounts and tokens over one unit of work.

    Args:
        session: the request's (or command's) session; never committed here.
        codec: signs and verifies JWTs.
        passwords: Argon2 hashing with the current parameters.
        reader: a read-only session for login's lookup, so that the ~50 ms (or more) of Argon2 verification runs
            before the writing transaction begins: on SQLite that transaction holds the database's write lock
            (``BEGIN IMMEDIATE``), and holding it while hashing would serialise every login and write.
    """

    def __init__(
        self, session: AsyncSession, codec: TokenCodec, passwords: Passwords, reader: AsyncSession | None = None
    ) -> None:
        self.session = session
        self.codec = codec
        self.passwords = passwords
        self.reader = reader or session

    async def create_user(
        self, *, email: str, password: str, display_name: str, locale: str, roles: Sequence[str]
    ) -> UserRead:
        """A new account with ``roles``; ``EmailTaken`` (409) when any spelling of ``email`` has one already,
        ``InvalidParameter`` (422) for an invalid address, password or role."""
        display, key = normalise_email(email)
        display_name = clean_display_name(display_name)
        check_password_policy(password)
        unknown = sorted(set(roles) - {role.value for role in Role})
        if unknown or not roles:
            raise InvalidParameter(f"roles: unknown {unknown}" if unknown else "roles: at least one is required")
        # Hash first, before the first statement opens the writing transaction (see ``reader``).
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        if await repository.user_by_email_key(self.session, key) is not None:
            raise EmailTaken("an account with this email exists already")
        user = User(email=display, email_key=key, display_name=display_name, locale=locale, password_hash=password_hash)
        try:
            await repository.add_user(self.session, user, roles)
        except IntegrityError as exc:  # a concurrent registration of the same address won the unique index
            raise EmailTaken("an account with this email exists already") from exc
        return user_read(user, roles)

    async def register(self, *, email: str, password: str, display_name: str, locale: str) -> UserRead:
        """Self-service registration: always and only the ``tourist`` role."""
        return await self.create_user(
            email=email, password=password, display_name=display_name, locale=locale, roles=[Role.TOURIST.value]
        )

    async def login(self, email: str, password: str) -> TokenPair:
        """A new session for valid credentials; ``InvalidCredentials`` (401, one body) otherwise.

        An unknown (or invalid) email still costs one Argon2 verification, of a dummy hash. A hash made with
        older parameters is replaced by one made with the current parameters.
        """
        key = email_key(email)
        user = await repository.user_by_email_key(self.reader, key) if key is not None else None
        stored = user.password_hash if user is not None else None
        user_id = user.id if user is not None else None
        if self.reader is not self.session:
            await self.reader.close()  # nothing of the read transaction is needed while hashing
        matched = await asyncio.to_thread(self.passwords.verify, stored, password)
        if user_id is None or stored is None or not matched:
            raise InvalidCredentials(LOGIN_FAILED)
        if self.passwords.needs_rehash(stored):
            new_hash = await asyncio.to_thread(self.passwords.hash, password)
            await repository.set_password_hash(self.session, user_id, new_hash, utcnow())
        roles = (await repository.roles_of(self.session, [user_id])).get(user_id, [])
        return await self._issue_pair(user_id, roles, family_id=uuid4())

    async def _issue_pair(self, user_id: UUID, roles: list[str], family_id: UUID) -> TokenPair:
        refresh = self.codec.refresh(user_id, roles)
        await repository.add_refresh_token(
            self.session,
            RefreshToken(
                id=refresh.jti,
                user_id=user_id,
                family_id=family_id,
                token_hash=token_digest(refresh.encoded),
                expires_at=refresh.expires_at,
            ),
        )
        access = self.codec.access(user_id, roles, family_id)
        return TokenPair(
            access_token=access.encoded,
            token_type="bearer",  # noqa: S106 (RFC 6750 token type, not a secret)
            expires_in=int(self.codec.access_lifetime.total_seconds()),
            refresh_token=refresh.encoded,
            refresh_expires_in=int(self.codec.refresh_lifetime.total_seconds()),
        )

    async def _stored_refresh_token(self, encoded: str) -> RefreshToken | None:
        claims = self.codec.decode(encoded, REFRESH)
        row = await repository.refresh_token_by_hash(self.session, token_digest(encoded))
        if row is None or str(row.user_id) != claims.sub:
            return None
        return row

    async def refresh(self, encoded: str) -> TokenPair:
        """Rotate: the presented refresh token is spent and a new pair of the same session is returned.

        ``InvalidToken`` (401) for a token that is not a live refresh token of this service. A token presented
        after it was already rotated (a replay, or a stolen copy) revokes its whole session and raises
        ``RefreshTokenReused``; the caller must commit that revocation although the request fails.
        """
        row = await self._stored_refresh_token(encoded)
        if row is None:
            raise InvalidToken("this refresh token is unknown")
        now = utcnow()
        if row.revoked_at is not None:
            raise InvalidToken("this refresh token was revoked")
        if row.used_at is not None or not await repository.mark_used(self.session, row.id, now):
            if row.used_at is None and row.expires_at <= now:
                raise InvalidToken("this refresh token has expired")
            await repository.revoke_family(self.session, row.user_id, row.family_id, now)
            raise RefreshTokenReused("this refresh token was used already; its session is now revoked")
        roles = (await repository.roles_of(self.session, [row.user_id])).get(row.user_id, [])
        return await self._issue_pair(row.user_id, roles, family_id=row.family_id)

    async def logout(self, encoded: str) -> None:
        """Revoke the session of a refresh token. Like RFC 7009 §2.2, an invalid or unknown token is not an error:
        there is nothing left to revoke."""
        try:
            row = await self._stored_refresh_token(encoded)
        except InvalidToken:
            return
        if row is not None:
            await repository.revoke_family(self.session, row.user_id, row.family_id, utcnow())

    async def me(self, identity: Identity) -> UserRead:
        user = await repository.get_user(self.session, identity.id)
        if user is None:
            raise NotFound("this account no longer exists")
        return user_read(user, sorted(identity.roles))

    async def update_me(self, identity: Identity, change: UserUpdate) -> UserRead:
        user = await repository.get_user(self.session, identity.id)
        if user is None:
            raise NotFound("this account no longer exists")
        if change.display_name is not None:
            user.display_name = clean_display_name(change.display_name)
        if change.locale is not None:
            user.locale = change.locale
        user.updated_at = utcnow()
        self.session.add(user)
        await self.session.flush()
        return user_read(user, sorted(identity.roles))

    async def sessions(self, identity: Identity) -> list[SessionRead]:
        """The caller's live sessions, most recently refreshed first."""
        rows = await repository.active_sessions(self.session, identity.id, utcnow())
        return [
            SessionRead(
                id=family_id,
                started_at=started_at,
                last_refreshed_at=issued_at,
                expires_at=expires_at,
                current=family_id == identity.session_id,
            )
            for family_id, started_at, issued_at, expires_at in rows
        ]

    async def end_session(self, identity: Identity, session_id: UUID) -> None:
        """Revoke one of the caller's sessions; 404 for a session that does not exist or is someone else's."""
        owner = await repository.session_owner(self.session, session_id)
        ensure_owned(owner, identity, "no such session")
        await repository.revoke_family(self.session, identity.id, session_id, utcnow())

    async def list_users(self, *, role: str | None, limit: int, cursor: str | None) -> UserPage:
        """Accounts by email, ``limit`` per page, optionally only those holding ``role``."""
        fingerprint = query_fingerprint("users", role)
        after = decode_cursor(cursor, fingerprint, (str,))[0] if cursor else None
        users = list(await repository.list_users(self.session, role=role, after=after, limit=limit))
        more = len(users) > limit
        users = users[:limit]
        roles = await repository.roles_of(self.session, [user.id for user in users])
        items = [user_read(user, roles.get(user.id, [])) for user in users]
        next_cursor = encode_cursor(fingerprint, [users[-1].email_key]) if more and users else None
        return UserPage(items=items, next_cursor=next_cursor)

    async def set_roles(self, actor: Identity, user_id: UUID, roles: Sequence[str]) -> UserRead:
        """Replace a user's roles. An admin cannot take the admin role from themselves (no lock-out by mistake)."""
        user = await repository.get_user(self.session, user_id)
        if user is None:
            raise NotFound("no such user")
        if user.id == actor.id and Role.ADMIN.value not in roles:
            raise InvalidParameter(
                "an admin cannot remove their own admin role",
                errors=[{"field": "roles", "source": "body", "message": "must keep admin"}],
            )
        await repository.replace_roles(self.session, user.id, roles)
        user.updated_at = utcnow()
        self.session.add(user)
        return user_read(user, sorted(set(roles)))
