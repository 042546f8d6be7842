"""Tables of accounts: users, their roles, and the refresh tokens issued to them (stored hashed, never in clear).

A user's ``email_key`` is the comparison form of the address (see ``src/kernel/auth/credentials.py``): two spellings
of one address (NFC/NFD, upper/lower case) have the same key, and a unique index on it makes them one account.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime, utcnow


class Role(StrEnum):
    """What a user may do; a user holds one or several (ARCHITECTURE.md, issue 5 §2)."""

    TOURIST = "tourist"  # their own reservations
    OWNER = "owner"  # their own properties and guests
    EDITOR = "editor"  # the tourism board's content
    BOARD = "board"  # aggregate statistics, never personal data
    ADMIN = "admin"  # accounts and roles


ROLE_VALUES = tuple(role.value for role in Role)
_ROLE_CHECK = "role IN (" + ", ".join(f"'{value}'" for value in ROLE_VALUES) + ")"


class User(SQLModel, table=True):
    """An account. ``password_hash`` is an Argon2id PHC string; it never leaves the service (no schema holds it)."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("email_key <> ''", name="email_key_not_empty"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    email: str = Field(max_length=320)
    email_key: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=100)
    locale: str = Field(max_length=16)
    password_hash: str = Field(max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class UserRole(SQLModel, table=True):
    """One role held by one user."""

    __tablename__ = "user_role"
    __table_args__ = (CheckConstraint(_ROLE_CHECK, name="role_known"),)

    user_id: UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(max_length=16, primary_key=True, index=True)


class RefreshToken(SQLModel, table=True):
    """A refresh token issued at login or by rotation; ``token_hash`` is the SHA-256 of the token as sent.

    Tokens issued from one login form a ``family_id`` (a session). Each use marks the token ``used_at`` and issues
    its successor; presenting a used token again revokes the whole family (OAuth 2.0 Security BCP, RFC 9700 §4.14).
    """

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_user_family", "user_id", "family_id"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    user_id: UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    family_id: UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


__all__ = ["ROLE_VALUES", "RefreshToken", "Role", "User", "UserRole"]
