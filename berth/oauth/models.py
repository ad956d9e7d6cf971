"""OAuth applications, their access tokens, and app-specific tokens (Quay's three kinds)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class OAuthApplication(Base):
    """An OAuth client registered in a namespace (organization, or a user's own)."""

    __tablename__ = "oauth_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text, default="")
    application_uri: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    avatar_email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(default=now_ms)


class OAuthAccessToken(Base):
    """A 40-character bearer token: found by its first 20 characters, the rest checked hashed."""

    __tablename__ = "oauth_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("oauth_applications.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    token_name: Mapped[str] = mapped_column(String(20), unique=True)
    token_code_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of chars 20..40
    scope: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[int | None] = mapped_column()  # epoch ms; None never
    created_at: Mapped[int] = mapped_column(default=now_ms)
    last_accessed: Mapped[int | None] = mapped_column()


class AppSpecificToken(Base):
    """A per-user token usable as a docker password with the username ``$app``.

    The code is shown again on request (Quay does too), so its secret half is stored
    encrypted with DATABASE_SECRET_KEY rather than hashed.
    """

    __tablename__ = "app_specific_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    token_name: Mapped[str] = mapped_column(String(60), unique=True)
    token_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(default=now_ms)
    expires_at: Mapped[int | None] = mapped_column()
    last_accessed: Mapped[int | None] = mapped_column()


class OAuthAssignedToken(Base):
    """FEATURE_ASSIGN_OAUTH_TOKEN: an organization admin asked that ``user_id`` get a token
    of the application; the user sees it and authorizes it (or deletes it)."""

    __tablename__ = "oauth_assigned_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("oauth_applications.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text)
    response_type: Mapped[str] = mapped_column(String(32), default="token")
    created_at: Mapped[int] = mapped_column(default=now_ms)
