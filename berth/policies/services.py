"""Create, read, update and delete auto-prune and immutability policies.

One implementation serves both kinds (``PRUNE`` and ``IMMUTABILITY``) and both levels: a
``Scope`` names a namespace, or one repository in it. Values arrive validated as rules
(berth.policies.rules); this module adds what needs the database: the scope must exist
(``ScopeNotFound``), a uuid must belong to the scope (``PolicyNotFound``) and two policies
of one scope may not hold the same values (``DuplicatePolicy``). Each change writes Quay's
usage-log entry in its transaction: ``{create,update,delete}_{namespace,repository}_
autoprune_policy`` and ``{create,update,delete}_immutability_policy``.
"""

from __future__ import annotations

import builtins  # annotations after a service's ``list`` method name builtins.list
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ScalarResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.fast import dialect_name
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.policies.errors import DuplicatePolicy, PolicyNotFound, ScopeNotFound
from berth.policies.models import AutoPrunePolicy, ImmutabilityPolicy
from berth.policies.rules import NUMBER_OF_TAGS, ImmutabilityRule, PruneRule
from berth.registry.models import Repository

R = TypeVar("R", PruneRule, ImmutabilityRule)
PolicyModel = type[AutoPrunePolicy] | type[ImmutabilityPolicy]


@dataclass(frozen=True, slots=True)
class Scope:
    """A namespace (``repository`` None) or the repository ``namespace/repository``."""

    namespace: str
    repository: str | None = None

    @property
    def level(self) -> str:
        return "namespace" if self.repository is None else "repository"

    @property
    def label(self) -> str:
        return self.namespace if self.repository is None else f"{self.namespace}/{self.repository}"


@dataclass(frozen=True, slots=True)
class Stored(Generic[R]):
    uuid: str
    rule: R


@dataclass(frozen=True)
class PolicyKind(Generic[R]):
    """How one kind of policy maps to its table."""

    model: PolicyModel
    columns: Callable[[R], dict[str, Any]]
    rule_of: Callable[[Any], R]
    duplicate_message: str  # ``{level}`` is "namespace" or "repository"
    log_kind: Callable[[str, Scope], str]  # (create|update|delete, scope) -> Quay's kind
    log_fields: Callable[[R], dict[str, Any]]  # the rule in the log's metadata


def _prune_columns(rule: PruneRule) -> dict[str, Any]:
    return {
        "method": rule.method,
        "value": str(rule.value),
        "tag_pattern": rule.tag_pattern,
        "tag_pattern_matches": rule.tag_pattern_matches,
    }


def prune_rule_of(row: Any) -> PruneRule:
    value: int | str = int(row.value) if row.method == NUMBER_OF_TAGS else row.value
    return PruneRule(row.method, value, row.tag_pattern, row.tag_pattern_matches)


def _immutability_columns(rule: ImmutabilityRule) -> dict[str, Any]:
    return {"tag_pattern": rule.tag_pattern, "tag_pattern_matches": rule.tag_pattern_matches}


def _immutability_rule_of(row: Any) -> ImmutabilityRule:
    return ImmutabilityRule(row.tag_pattern, row.tag_pattern_matches)


PRUNE: PolicyKind[PruneRule] = PolicyKind(
    AutoPrunePolicy,
    _prune_columns,
    prune_rule_of,
    "Existing policy with same values for this {level}, duplicate policies are not permitted",
    lambda action, scope: f"{action}_{scope.level}_autoprune_policy",
    lambda r: {
        "method": r.method,
        "value": r.value,
        "tag_pattern": r.tag_pattern,
        "tag_pattern_matches": r.tag_pattern_matches,
    },
)
IMMUTABILITY: PolicyKind[ImmutabilityRule] = PolicyKind(
    ImmutabilityPolicy,
    _immutability_columns,
    _immutability_rule_of,
    "A policy with the same tag_pattern and tag_pattern_matches already exists",
    lambda action, _scope: f"{action}_immutability_policy",
    _immutability_columns,
)


@dataclass(frozen=True, slots=True)
class _Resolved:
    namespace_id: int
    repository_id: int | None


async def _resolve(s: AsyncSession, scope: Scope, *, lock: bool = False) -> _Resolved:
    """The scope's ids; ``lock`` serialises writers of one namespace (duplicate checks)."""
    stmt = select(Namespace.id).where(Namespace.name == scope.namespace, Namespace.enabled)
    if lock and dialect_name(s) == "postgresql":
        stmt = stmt.with_for_update()
    namespace_id = (await s.execute(stmt)).scalar()
    if namespace_id is None:
        raise ScopeNotFound(scope.label)
    if scope.repository is None:
        return _Resolved(namespace_id, None)
    repository_id = (
        await s.execute(
            select(Repository.id).where(
                Repository.namespace_id == namespace_id, Repository.name == scope.repository
            )
        )
    ).scalar()
    if repository_id is None:
        raise ScopeNotFound(scope.label)
    return _Resolved(namespace_id, repository_id)


def _in_scope(model: PolicyModel, where: _Resolved) -> list[Any]:
    level = (
        model.repository_id.is_(None)
        if where.repository_id is None
        else model.repository_id == where.repository_id
    )
    return [model.namespace_id == where.namespace_id, level]


class PolicyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, kind: PolicyKind[R], scope: Scope) -> list[Stored[R]]:
        async with self.db.read() as s:
            return await self._rows(s, kind, await _resolve(s, scope))

    async def get(self, kind: PolicyKind[R], scope: Scope, policy_uuid: str) -> Stored[R]:
        for stored in await self.list(kind, scope):
            if stored.uuid == policy_uuid:
                return stored
        raise PolicyNotFound(policy_uuid)

    async def create(
        self, kind: PolicyKind[R], scope: Scope, rule: R, *, performer: Performer | None = None
    ) -> str:
        new_uuid = str(uuidlib.uuid4())
        async with self.db.write() as s:
            where = await _resolve(s, scope, lock=True)
            _refuse_duplicate(kind, scope, await self._rows(s, kind, where), rule, exclude=None)
            s.add(
                kind.model(
                    uuid=new_uuid,
                    namespace_id=where.namespace_id,
                    repository_id=where.repository_id,
                    created_at=now_ms(),
                    **kind.columns(rule),
                )
            )
            _log(s, kind, "create", scope, where, new_uuid, performer, rule)
        return new_uuid

    async def update(
        self,
        kind: PolicyKind[R],
        scope: Scope,
        policy_uuid: str,
        rule: R,
        *,
        performer: Performer | None = None,
    ) -> None:
        async with self.db.write() as s:
            where = await _resolve(s, scope, lock=True)
            existing = await self._rows(s, kind, where)
            if all(stored.uuid != policy_uuid for stored in existing):
                raise PolicyNotFound(policy_uuid)
            _refuse_duplicate(kind, scope, existing, rule, exclude=policy_uuid)
            await s.execute(
                update(kind.model)
                .where(kind.model.uuid == policy_uuid, *_in_scope(kind.model, where))
                .values(**kind.columns(rule))
            )
            _log(s, kind, "update", scope, where, policy_uuid, performer, rule)

    async def delete(
        self,
        kind: PolicyKind[R],
        scope: Scope,
        policy_uuid: str,
        *,
        performer: Performer | None = None,
    ) -> None:
        async with self.db.write() as s:
            where = await _resolve(s, scope)
            result = await s.execute(
                delete(kind.model).where(
                    kind.model.uuid == policy_uuid, *_in_scope(kind.model, where)
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise PolicyNotFound(policy_uuid)
            _log(s, kind, "delete", scope, where, policy_uuid, performer)

    @staticmethod
    async def _rows(
        s: AsyncSession, kind: PolicyKind[R], where: _Resolved
    ) -> builtins.list[Stored[R]]:
        result = await s.execute(
            select(kind.model)
            .where(*_in_scope(kind.model, where))
            .order_by(kind.model.created_at, kind.model.id)
        )
        # select() over a union of models is typed as their common base: name the union.
        rows = cast("ScalarResult[AutoPrunePolicy | ImmutabilityPolicy]", result.scalars())
        return [Stored(row.uuid, kind.rule_of(row)) for row in rows]


def _log(
    s: AsyncSession,
    kind: PolicyKind[R],
    action: str,
    scope: Scope,
    where: _Resolved,
    policy_uuid: str,
    performer: Performer | None,
    rule: R | None = None,
) -> None:
    """A policy change's usage-log entry: the rule (not on delete), where, the uuid."""
    meta: dict[str, Any] = kind.log_fields(rule) if rule is not None else {}
    meta["namespace"] = scope.namespace
    if scope.repository is not None:
        meta["repo"] = scope.repository
    meta["policy_uuid"] = policy_uuid
    record(
        s, kind.log_kind(action, scope), scope.namespace, performer, scope.repository, meta,
        namespace_id=where.namespace_id, repository_id=where.repository_id,
    )  # fmt: skip


def _refuse_duplicate(
    kind: PolicyKind[R], scope: Scope, existing: list[Stored[R]], rule: R, *, exclude: str | None
) -> None:
    for stored in existing:
        if stored.uuid != exclude and stored.rule == rule:
            message = kind.duplicate_message.format(level=scope.level)
            raise DuplicatePolicy(message, uuid=stored.uuid)
