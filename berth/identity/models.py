"""The identity tables: user accounts (robots are users of kind "robot"), robot tokens,
teams with their members and invitations, repository permissions and default permissions
(prototypes). Namespaces, users' and organizations' alike, are
``berth.namespaces.models.Namespace``; an organization is a namespace of kind "org" whose
members are the members of its teams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    namespace_id: Mapped[int | None] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[str] = mapped_column(String(16), default="user")  # "user" | "robot"
    superuser: Mapped[bool] = mapped_column(default=False)  # in addition to SUPER_USERS
    # A global read-only superuser, in addition to GLOBAL_READONLY_SUPER_USERS (the
    # directory's LDAP_GLOBAL_READONLY_SUPERUSER_FILTER verdict, stored at each sign-in).
    readonly_superuser: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[int] = mapped_column(default=now_ms)
    last_accessed: Mapped[int | None] = mapped_column()
    # Browser sessions carry this; sign-out rotates it, ending every session of the user.
    session_uuid: Mapped[str | None] = mapped_column(String(36))
    # Login backoff (Quay's verify_user): consecutive wrong passwords and when the last was.
    invalid_login_attempts: Mapped[int] = mapped_column(default=0)
    last_invalid_login: Mapped[int | None] = mapped_column()


# ---- robot accounts: a ``users`` row of kind "robot" named ``ns+short``, plus its token


class RobotAccount(Base):
    __tablename__ = "robot_accounts"
    __table_args__ = (Index("ix_robot_accounts_namespace_id", "namespace_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text, default="")
    unstructured_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The token is shown again on request (as Quay does): Fernet-encrypted with
    # DATABASE_SECRET_KEY; logins compare its SHA-256 so no decryption is needed.
    token_sha256: Mapped[str] = mapped_column(String(64))
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class RobotFederation(Base):
    """Robot identity federation (Quay 3.13+): external OIDC identities (issuer and subject)
    whose tokens may be exchanged for a short-lived token of this robot."""

    __tablename__ = "robot_federations"

    robot_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(default=now_ms)


# ---- teams of an organization, their members and pending invitations


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # member | creator | admin
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(default=now_ms)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_user_id", "user_id"),)

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(default=now_ms)


class TeamInvite(Base):
    """A pending invitation: to a known user, or to an e-mail address."""

    __tablename__ = "team_invites"
    __table_args__ = (
        Index("ix_team_invites_team_id", "team_id"),
        Index("ix_team_invites_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(255))
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(default=now_ms)


# ---- repository permissions (user, robot or team) and default permissions (prototypes)


class RepositoryPermission(Base):
    """Exactly one of ``user_id`` (users and robots) and ``team_id`` is set."""

    __tablename__ = "repository_permissions"
    __table_args__ = (
        UniqueConstraint("repository_id", "user_id"),
        UniqueConstraint("repository_id", "team_id"),
        Index("ix_repository_permissions_user_id", "user_id"),
        Index("ix_repository_permissions_team_id", "team_id"),
        CheckConstraint("(user_id IS NULL) != (team_id IS NULL)", name="one_delegate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # read | write | admin
    created_at: Mapped[int] = mapped_column(default=now_ms)


class Prototype(Base):
    """A default permission: applied to every repository created in the organization
    (only those created by ``activating_user_id`` when that is set)."""

    __tablename__ = "prototypes"
    __table_args__ = (
        Index("ix_prototypes_namespace_id", "namespace_id"),
        CheckConstraint(
            "(delegate_user_id IS NULL) != (delegate_team_id IS NULL)", name="one_delegate"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    activating_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    delegate_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delegate_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(default=now_ms)


# ---- accounts from an identity provider (LDAP, OpenID Connect) and synced teams


class FederatedLogin(Base):
    """A Berth user bound to an account of an identity provider: ``service`` ("ldap", or
    an OIDC login service's name) and the provider's stable identifier for the user."""

    __tablename__ = "federated_logins"
    __table_args__ = (
        UniqueConstraint("service", "service_ident"),
        UniqueConstraint("user_id", "service"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(64))
    service_ident: Mapped[str] = mapped_column(String(255))
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class TeamSync(Base):
    """A team whose members follow a directory group (FEATURE_TEAM_SYNCING): ``service``
    "ldap" with ``config`` ``{"group_dn": ...}``; ``last_updated`` the last sync (ms)."""

    __tablename__ = "team_syncs"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_updated: Mapped[int | None] = mapped_column()
    created_at: Mapped[int] = mapped_column(default=now_ms)
