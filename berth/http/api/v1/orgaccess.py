"""Quay's organization permissions for /api/v1 handlers, and identity errors as Quay answers.

``AdministerOrganizationPermission`` / ``OrganizationMemberPermission``: the caller's team role
in the namespace, capped by its OAuth scopes (``org:admin`` allows admin, ``repo:create``
creator, anything else no organization role at all; a browser session is not capped). A user
administers its own namespace as if it were an organization. Superusers pass with
FEATURE_SUPERUSERS_FULL_ACCESS (and a session or a ``super:user`` token).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from berth.accounts.services import UserRecord
from berth.http.api.v1.errors import (
    MessageError,
    forbidden,
    invalid_request,
    not_found,
    unauthorized,
)
from berth.http.api.v1.framework import ApiCaller, Ctx
from berth.orgs.errors import Forbidden, IdentityError, InvalidRequest, NotFound

_TEAM_ROLE_CAPS = (("org:admin", "admin"), ("repo:create", "creator"))


@dataclass(frozen=True)
class OrgStanding:
    is_admin: bool
    is_member: bool


NO_STANDING = OrgStanding(is_admin=False, is_member=False)


def team_role_cap(caller: ApiCaller) -> str | None:
    """The strongest organization role the caller's credential allows (None: no role)."""
    if caller.scopes is None:
        return "admin"
    return next((cap for scope, cap in _TEAM_ROLE_CAPS if caller.has_scope(scope)), None)


async def org_standing(ctx: Ctx, namespace: str) -> OrgStanding:
    """Is the caller admin / member of ``namespace`` (scope caps applied)?"""
    user = ctx.caller.user
    if user is None or user.kind != "user":
        return NO_STANDING
    if ctx.caller.is_superuser and ctx.api.raw.FEATURE_SUPERUSERS_FULL_ACCESS:
        return OrgStanding(is_admin=True, is_member=True)
    cap = team_role_cap(ctx.caller)
    if cap is None:
        return NO_STANDING
    if namespace == user.username:
        return OrgStanding(is_admin=cap == "admin", is_member=True)
    try:
        membership = await ctx.api.svc.orgs.membership(namespace, user.username)
    except NotFound:
        return NO_STANDING
    return OrgStanding(
        is_admin=membership.is_admin and cap == "admin", is_member=membership.is_member
    )


async def require_org_admin(ctx: Ctx, namespace: str) -> UserRecord:
    """401 anonymous, 403 unless the caller administers ``namespace``."""
    if not (await org_standing(ctx, namespace)).is_admin:
        raise unauthorized(ctx.caller.user is not None)
    assert ctx.caller.user is not None
    return ctx.caller.user


@contextlib.contextmanager
def quay_errors(*, as_message: tuple[type[IdentityError], ...] = ()) -> Iterator[None]:
    """Identity errors as Quay answers them: ``as_message`` ones (model errors that escape
    Quay's handler) as 400 ``{"message"}``, other invalid requests as ``invalid_request``,
    unknown things as ``not_found``, refusals as ``insufficient_scope``."""
    try:
        yield
    except as_message as e:
        raise MessageError(400, e.message) from e
    except InvalidRequest as e:
        raise invalid_request(e.message) from e
    except NotFound as e:
        raise not_found() from e
    except Forbidden as e:
        raise forbidden() from e
