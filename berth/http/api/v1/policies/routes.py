"""Auto-prune policies (``…/autoprunepolicy/``) and tag immutability policies
(``…/immutabilitypolicy/``) of organizations, the caller's own namespace and repositories.

Quay's answers: POST 201 ``{uuid}``, PUT 204, DELETE 200 ``{uuid}``, a bad method, value or
pattern or a duplicate 400 ``invalid_request``, an unknown uuid 404. Organization routes need
an org admin (a user's own name works too), repository routes
``require_repo(ctx, RepoRole.ADMIN)``. Behind FEATURE_AUTO_PRUNE and FEATURE_IMMUTABLE_TAGS (404
when off). The policy service writes the usage-log entries (berth.policies.services).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import (
    invalid_request,
    json_response,
    not_found,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Handler
from berth.http.api.v1.identity.access import require_org_admin
from berth.http.api.v1.policies.serializers import autoprune_view, immutability_view
from berth.http.api.v1.repos.access import require_repo
from berth.policies.errors import DuplicatePolicy, InvalidPolicy, NotFound
from berth.policies.rules import immutability_rule, prune_rule
from berth.policies.services import IMMUTABILITY, PRUNE, PolicyKind, Scope, Stored

T = TypeVar("T")

AUTOPRUNE_BODY = {
    "type": "object",
    "description": "The policy configuration that is to be applied",
    "required": ["method", "value"],
    "properties": {
        "method": {
            "type": "string",
            "description": "The method to use for pruning tags (number_of_tags, creation_date; "
            "Berth also: last_pull_date)",
        },
        "value": {
            "type": ["integer", "string"],
            "description": "The value to use for the pruning method (number of tags e.g. 10, "
            "time delta e.g. 7d (7 days))",
        },
        "tagPattern": {
            "type": "string",
            "description": "Tags only matching this pattern will be pruned",
        },
        "tagPatternMatches": {
            "type": "boolean",
            "description": "Determine whether pruned tags should or should not match the "
            "tagPattern",
        },
    },
}
IMMUTABILITY_BODY = {
    "type": "object",
    "description": "The immutability policy configuration",
    "required": ["tagPattern"],
    "properties": {
        "tagPattern": {"type": "string", "description": "Regex pattern to match tag names"},
        "tagPatternMatches": {
            "type": "boolean",
            "description": "If true, matching tags are immutable. If false, non-matching tags "
            "are immutable.",
        },
    },
}


@dataclass(frozen=True)
class _Resource:
    """One kind of policy as the API shows it."""

    kind: PolicyKind[Any]
    path: str  # the collection's last segment
    noun: str
    body: dict[str, Any]
    rule_of: Callable[[dict[str, Any]], Any]
    view: Callable[[Stored[Any]], dict[str, Any]]
    tag: str
    body_name: str


AUTOPRUNE = _Resource(
    PRUNE,
    "autoprunepolicy",
    "auto-prune policy",
    AUTOPRUNE_BODY,
    lambda b: prune_rule(b["method"], b["value"], b.get("tagPattern"), b.get("tagPatternMatches")),
    autoprune_view,
    "policy",
    "AutoPrunePolicyConfig",
)
IMMUTABILITY_POLICY = _Resource(
    IMMUTABILITY,
    "immutabilitypolicy",
    "immutability policy",
    IMMUTABILITY_BODY,
    lambda b: immutability_rule(b["tagPattern"], b.get("tagPatternMatches")),
    immutability_view,
    "immutability_policy",
    "ImmutabilityPolicyConfig",
)


# ---- whose policies -----------------------------------------------------------------------
ScopeOf = Callable[[Ctx], Awaitable[Scope]]


async def org_scope(ctx: Ctx) -> Scope:
    """Quay's AdministerOrganizationPermission (a user's own namespace counts)."""
    name = ctx.params["orgname"]
    await require_org_admin(ctx, name)
    return Scope(name)


async def user_scope(ctx: Ctx) -> Scope:
    return Scope(ctx.require_user("user:admin").username)


async def repo_scope(ctx: Ctx) -> Scope:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    return Scope(access.repo.namespace, access.repo.name)


async def _domain(call: Awaitable[T]) -> T:
    """Policy domain errors in Quay's shapes."""
    try:
        return await call
    except NotFound as e:
        raise not_found() from e
    except (InvalidPolicy, DuplicatePolicy) as e:
        raise invalid_request(e.message) from e


async def _rule(ctx: Ctx, res: _Resource) -> Any:
    body = await ctx.body(res.body)
    try:
        return res.rule_of(body)
    except InvalidPolicy as e:
        raise invalid_request(e.message) from e


def _handlers(res: _Resource, scope_of: ScopeOf) -> dict[str, Handler]:
    async def list_policies(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        stored = await _domain(ctx.api.svc.policies.list(res.kind, scope))
        return json_response({"policies": [res.view(p) for p in stored]})

    async def create_policy(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        rule = await _rule(ctx, res)
        policy_uuid = await _domain(
            ctx.api.svc.policies.create(res.kind, scope, rule, performer=ctx.performer())
        )
        return json_response({"uuid": policy_uuid}, 201)

    async def get_policy(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        stored = await _domain(ctx.api.svc.policies.get(res.kind, scope, ctx.params["uuid"]))
        return json_response(res.view(stored))

    async def update_policy(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        rule = await _rule(ctx, res)
        policy_uuid = ctx.params["uuid"]
        await _domain(
            ctx.api.svc.policies.update(
                res.kind, scope, policy_uuid, rule, performer=ctx.performer()
            )
        )
        return Response(status_code=204)

    async def delete_policy(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        policy_uuid = ctx.params["uuid"]
        await _domain(
            ctx.api.svc.policies.delete(res.kind, scope, policy_uuid, performer=ctx.performer())
        )
        return json_response({"uuid": policy_uuid}, 200)

    return {
        "list": list_policies,
        "create": create_policy,
        "get": get_policy,
        "update": update_policy,
        "delete": delete_policy,
    }


_OWNERS: dict[str, tuple[str, ScopeOf, str]] = {
    "organization": ("/organization/{orgname}", org_scope, "org:admin"),
    "user": ("/user", user_scope, "user:admin"),
    "repository": ("/repository/{repository}", repo_scope, "repo:admin"),
}


def _resource_routes(res: _Resource, owner: str, *, enabled: bool) -> list[ApiRoute]:
    base, scope_of, scope = _OWNERS[owner]
    h = _handlers(res, scope_of)
    collection = f"{base}/{res.path}/"
    item = collection + "{uuid}"
    common: dict[str, Any] = {"tag": res.tag, "scopes": (scope,), "enabled": enabled}
    writes: dict[str, Any] = {**common, "body": res.body, "body_name": res.body_name}
    return [
        ApiRoute("GET", collection, h["list"], f"Lists the {res.noun}s of the {owner}", **common),
        ApiRoute(
            "POST", collection, h["create"], f"Creates an {res.noun} for the {owner}", **writes
        ),
        ApiRoute("GET", item, h["get"], f"Fetches an {res.noun} of the {owner}", **common),
        ApiRoute("PUT", item, h["update"], f"Updates an {res.noun} of the {owner}", **writes),
        ApiRoute("DELETE", item, h["delete"], f"Deletes an {res.noun} of the {owner}", **common),
    ]


def routes(api: ApiApp) -> list[ApiRoute]:
    prune_on = api.settings.policies.auto_prune
    immutable_on = api.settings.policies.immutable_tags
    table = [(AUTOPRUNE, owner, prune_on) for owner in _OWNERS] + [
        (IMMUTABILITY_POLICY, owner, immutable_on) for owner in ("organization", "repository")
    ]
    return [r for res, owner, on in table for r in _resource_routes(res, owner, enabled=on)]
