"""Core statements run straight on the driver (sqlite3 or asyncpg): the push's hot path.

Through SQLAlchemy's asyncio session a statement costs ~60-110 µs of CPU on this kind of
machine (greenlet hop, session and connection bookkeeping, parameter and result
processing) and a unit of work another ~300 µs, while SQLite itself answers the push
path's statements in 2-40 µs. A manifest PUT runs a dozen statements in one unit, so on
the embedded default that bookkeeping, not SQLite, was the cost of a push. On PostgreSQL
the same bookkeeping plus the asyncpg adapter's made a push cost ~8 ms of server CPU.

``FastUnit`` runs the *same* SQLAlchemy Core (or ORM-enabled) statements the services
build, compiled by SQLAlchemy for the database once per statement shape (SQLAlchemy's own cache
key, so literal values in ad-hoc statements are extracted exactly as SQLAlchemy does),
with SQLAlchemy's bind and result processors applied, on a plain ``sqlite3`` connection
(``FastUnit``) or on the asyncpg connection of a pooled SQLAlchemy connection
(``AsyncpgFastUnit``, asyncpg's prepared-statement cache doing the rest).
It offers the part of ``AsyncSession`` the hot paths use: ``execute(statement, params)``
returning a result with ``scalar``/``scalar_one``/``first``/``one``/``all``/``scalars``/
``rowcount``/iteration, and ``bind`` (for the dialect name). ORM unit-of-work calls
(``add``, ``flush``) are not offered: code that runs in a fast unit uses Core inserts.
On an in-memory SQLite database (one per connection) ``Database.write_fast()`` is simply
``Database.write()``; one service code path serves every deployment.

Rules a statement must follow to run here (checked when it is first compiled, so a
violation fails in the tests, not in production):
- an INSERT or UPDATE passes every column that has a Python-side default or onupdate
  (nothing here runs SQLAlchemy's default generators);
- an expanding ``IN`` list must not be empty (guard the call instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Delete, Insert, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy.ext.asyncio import AsyncSession
    from typing_extensions import TypeIs

_MAX_SHAPES = 2048


class FastStatementError(ValueError):
    """A statement that cannot run in a fast unit (see the module's rules)."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    compiled: SQLCompiler
    expanding: bool
    returns_rows: bool
    result_processors: tuple[Callable[[Any], Any] | None, ...] | None


class StatementCache:
    """Compiled statements by shape (SQLAlchemy's cache key plus the keys of the values)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._by_shape: dict[Any, _Prepared] = {}

    def prepare(self, stmt: Any, keys: tuple[str, ...]) -> tuple[_Prepared, Any]:
        cache_key = stmt._generate_cache_key()
        if cache_key is None:
            raise FastStatementError(f"statement has no cache key: {stmt}")
        shape = (cache_key.key, keys)
        prepared = self._by_shape.get(shape)
        if prepared is None:
            prepared = self._compile(stmt, keys, cache_key)
            if len(self._by_shape) >= _MAX_SHAPES:
                self._by_shape.clear()
            self._by_shape[shape] = prepared
        return prepared, cache_key.bindparams

    def _compile(self, stmt: Any, keys: tuple[str, ...], cache_key: Any) -> _Prepared:
        is_dml = isinstance(stmt, Insert | Update)
        compiled = stmt.compile(
            dialect=self.dialect,
            cache_key=cache_key,  # lets later statements of this shape bring their values
            column_keys=list(keys) if is_dml else None,
        )
        if is_dml:
            _check_defaults(stmt, set(keys) | set(_values_keys(stmt)))
        expanding = any(b.expanding for b in compiled.binds.values())
        processors = None
        # DML returns rows when it has a RETURNING clause: asked of the statement, not of the
        # compiled form, whose ``returning`` was seen empty for an UPDATE ... RETURNING of
        # scalar subqueries once the process had compiled other statements (PostgreSQL).
        returns_rows = not isinstance(stmt, Insert | Update | Delete) or bool(
            getattr(stmt, "_returning", None) or getattr(compiled, "returning", None)
        )
        if returns_rows:
            columns = compiled._result_columns
            found = tuple(c.type._cached_result_processor(self.dialect, None) for c in columns)
            processors = found if any(found) else None
        return _Prepared(compiled, expanding, returns_rows, processors)


def _values_keys(stmt: Any) -> list[str]:
    values = getattr(stmt, "_values", None) or {}
    return [getattr(k, "key", k) for k in values]


def _check_defaults(stmt: Any, given: set[str]) -> None:
    table = stmt.table
    for column in table.columns:
        if column.key in given:
            continue
        python_side = column.onupdate if isinstance(stmt, Update) else column.default
        if python_side is not None and not getattr(python_side, "is_sequence", False):
            raise FastStatementError(
                f"{type(stmt).__name__} on {table.name} leaves out {column.key}, which has a "
                "Python-side default: pass it explicitly in a fast unit"
            )


class FastResult:
    """The rows (or row count) of one statement, read in full when it ran."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def one(self) -> tuple[Any, ...]:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def one_or_none(self) -> tuple[Any, ...] | None:
        if len(self._rows) > 1:
            raise LookupError(f"expected at most one row, got {len(self._rows)}")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> _Scalars:
        return _Scalars([row[0] for row in self._rows])


class _Scalars(list[Any]):
    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None


class FastUnit:
    """One unit of work on a raw sqlite3 connection (the caller begins and ends it)."""

    def __init__(self, conn: Any, statements: StatementCache, bind: Any) -> None:
        self._conn = conn
        self._statements = statements
        self.bind = bind  # ``unit.bind.dialect.name``, as on a session

    async def execute(
        self,
        stmt: Any,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> FastResult:
        return self.run(stmt, params)

    def run(
        self,
        stmt: Any,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> FastResult:
        if _is_many(params):
            if not params:
                return FastResult([], 0)
            sql, many = self._many(stmt, params)
            cursor = self._conn.executemany(sql, many)
            return FastResult([], cursor.rowcount)
        prepared, sql, args = self._one(stmt, params)
        cursor = self._conn.execute(sql, args)
        rows = cursor.fetchall()  # tuples already
        if prepared.result_processors is not None and rows:
            rows = _processed(prepared, rows)
        return FastResult(rows, cursor.rowcount)

    def _one(
        self, stmt: Any, params: Mapping[str, Any] | None
    ) -> tuple[_Prepared, str, tuple[Any, ...]]:
        given = dict(params or {})
        prepared, extracted = self._statements.prepare(stmt, tuple(given))
        sql, args = _args(prepared, extracted, given)
        return prepared, sql, args

    def _many(
        self, stmt: Any, params: Sequence[Mapping[str, Any]]
    ) -> tuple[str, list[tuple[Any, ...]]]:
        many = list(params)
        prepared, extracted = self._statements.prepare(stmt, tuple(many[0]))
        rows_args = [_args(prepared, extracted, p) for p in many]
        sql = rows_args[0][0]
        if any(s != sql for s, _ in rows_args):
            raise FastStatementError("executemany over rows of different shapes")
        return sql, [a for _, a in rows_args]


class AsyncpgFastUnit(FastUnit):
    """One unit of work on a raw asyncpg connection: the same statements, compiled by
    SQLAlchemy's asyncpg dialect (``$n`` parameters, its casts), run with asyncpg's own
    prepared-statement cache. The JSON codecs SQLAlchemy installs on connect still apply:
    the connection is one of the engine's pool."""

    async def execute(
        self,
        stmt: Any,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> FastResult:
        if _is_many(params):
            if not params:
                return FastResult([], 0)
            sql, many = self._many(stmt, params)
            await self._conn.executemany(sql, many)
            return FastResult([], -1)  # asyncpg does not report it
        prepared, sql, args = self._one(stmt, params)
        if prepared.returns_rows:
            records = await self._conn.fetch(sql, *args)
            return FastResult(_processed(prepared, records), len(records))
        status: str = await self._conn.execute(sql, *args)  # "UPDATE 3", "INSERT 0 1"
        count = status.rsplit(" ", 1)[-1]
        return FastResult([], int(count) if count.isdigit() else -1)

    def run(self, stmt: Any, params: Any = None) -> FastResult:
        raise TypeError("an asyncpg fast unit runs statements with ``await unit.execute``")


def _is_many(params: object) -> TypeIs[Sequence[Mapping[str, Any]]]:
    return isinstance(params, Sequence) and not isinstance(params, Mapping)


def _processed(prepared: _Prepared, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    processors = prepared.result_processors
    if processors is None:
        return [tuple(row) for row in rows]
    return [
        tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
        for row in rows
    ]


def _args(
    prepared: _Prepared, extracted: Sequence[Any], given: Mapping[str, Any]
) -> tuple[str, tuple[Any, ...]]:
    compiled = prepared.compiled
    values = compiled.construct_params(given, extracted_parameters=extracted, _check=False)
    processors: Mapping[str, Callable[[Any], Any]]  # bind processors by parameter name
    if prepared.expanding:
        for bind, name in compiled.bind_names.items():
            if bind.expanding and not values.get(name):
                raise FastStatementError(f"empty IN list for {name!r}")
        state = compiled._process_parameters_for_postcompile(values)
        sql, names, params, processors = (
            state.statement,
            state.positiontup,
            state.parameters,
            state.processors,
        )
    else:
        sql, names, params = compiled.string, compiled.positiontup, values
        # A sequence of processors only comes with a tuple-typed bind (``tuple_(...)``),
        # which no statement run here uses.
        processors = cast("Mapping[str, Callable[[Any], Any]]", compiled._bind_processors)
    args = tuple(
        processors[name](params[name]) if name in processors else params[name]
        for name in names or ()
    )
    return sql, args


#: What the hot paths' helpers run statements in: a session, or a fast unit in its place.
Unit: TypeAlias = "AsyncSession | FastUnit"


def dialect_name(unit: Unit) -> str:
    """``"sqlite"`` or ``"postgresql"``: the dialect of the engine ``unit`` is bound to."""
    bind = unit.bind
    assert bind is not None  # Database's sessions and units are always bound to an engine
    name: str = bind.dialect.name
    return name


__all__ = [
    "AsyncpgFastUnit",
    "FastResult",
    "FastStatementError",
    "FastUnit",
    "StatementCache",
    "Unit",
    "dialect_name",
]
