"""Build a storage driver from its configured name and arguments.

Names and arguments follow Quay's ``DISTRIBUTED_STORAGE_CONFIG`` entries, e.g.
``["S3Storage", {"s3_bucket": "...", "storage_path": "/registry", ...}]``, plus a few
Berth extras. Keys a driver does not use are ignored, so Quay configs carrying options
Berth has no use for (``maximum_chunk_size_mb``...) still load. An unknown driver name
or a missing/ill-typed argument is a startup error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from berth.storage.base import (
    BlobStorage,
    StorageConfigError,
    StorageError,
    UnknownStorageDriver,
)
from berth.storage.paths import normalize_prefix

__all__ = [
    "DRIVERS",
    "StorageConfigError",
    "StorageError",
    "UnknownStorageDriver",
    "create_storage",
    "validate_storage_args",
]

Kind = Literal["str", "prefix", "port", "bool"]


@dataclass(frozen=True, slots=True)
class _Arg:
    key: str
    kind: Kind
    required: bool = False


@dataclass(frozen=True, slots=True)
class DriverSpec:
    name: str
    args: tuple[_Arg, ...]
    build: Callable[[dict[str, Any]], BlobStorage]
    # Keys that must be given together (both or neither).
    pairs: tuple[tuple[str, str], ...] = ()

    def problems(self, args: object) -> list[tuple[str, str]]:
        if not isinstance(args, Mapping):
            return [("", f"{self.name}: arguments must be a mapping, got {type(args).__name__}")]
        found: list[tuple[str, str]] = []
        for arg in self.args:
            value = args.get(arg.key)
            if value is None or value == "":
                if arg.required:
                    found.append((arg.key, f"{self.name}: '{arg.key}' is required"))
                continue
            problem = _check_kind(arg.kind, value)
            if problem:
                found.append((arg.key, f"{self.name}: '{arg.key}' {problem}"))
        for a, b in self.pairs:
            has_a, has_b = bool(args.get(a)), bool(args.get(b))
            if has_a != has_b:
                missing = b if has_a else a
                present = a if has_a else b
                found.append(
                    (missing, f"{self.name}: '{missing}' is required when '{present}' is set")
                )
        return found


def _check_kind(kind: Kind, value: object) -> str | None:
    if kind in ("str", "prefix") and not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if kind == "str":
        return None
    if kind == "prefix":
        try:
            normalize_prefix(value)  # type: ignore[arg-type]  # a str: checked above with kind
        except ValueError as exc:
            return f"is not a usable key prefix: {exc}"
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    # port: an int (or a string of digits, as environment substitution produces) in 1..65535
    if isinstance(value, bool):
        return f"must be a port number, got {value!r}"
    try:
        port = int(value)  # type: ignore[call-overload]  # any value: TypeError is an answer
    except (TypeError, ValueError):
        return f"must be a port number, got {value!r}"
    return None if 1 <= port <= 65535 else f"must be a port number (1-65535), got {value!r}"


def _endpoint(host: str, port: object, is_secure: bool) -> str:
    base = host if "://" in host else f"{'https' if is_secure else 'http'}://{host}"
    if port is not None and port != "":
        base = f"{base.rstrip('/')}:{int(port)}"  # type: ignore[call-overload]  # _check_kind passed
    return base


def _build_local(args: dict[str, Any]) -> BlobStorage:
    from berth.storage.filesystem import FilesystemBlobStorage

    return FilesystemBlobStorage(args["storage_path"])


def _build_memory(args: dict[str, Any]) -> BlobStorage:
    from berth.storage.memory import InMemoryBlobStorage

    return InMemoryBlobStorage()


def _build_s3(args: dict[str, Any]) -> BlobStorage:
    from berth.storage.s3 import S3BlobStorage

    endpoint = args.get("endpoint_url") or None
    if not endpoint and args.get("host"):
        endpoint = _endpoint(args["host"], args.get("port"), args.get("is_secure", True))
    return S3BlobStorage(
        bucket=args["s3_bucket"],
        endpoint_url=endpoint,
        region=args.get("s3_region") or None,
        access_key=args.get("s3_access_key") or None,
        secret_key=args.get("s3_secret_key") or None,
        prefix=args.get("storage_path") or "",
        presign=bool(args.get("presigned_redirect", False)),
    )


def _build_radosgw(args: dict[str, Any]) -> BlobStorage:
    from berth.storage.s3 import S3BlobStorage

    return S3BlobStorage(
        bucket=args["bucket_name"],
        endpoint_url=_endpoint(args["hostname"], args.get("port"), args.get("is_secure", True)),
        access_key=args["access_key"],
        secret_key=args["secret_key"],
        prefix=args.get("storage_path") or "",
        presign=bool(args.get("presigned_redirect", False)),
    )


DRIVERS: Mapping[str, DriverSpec] = MappingProxyType(
    {
        "LocalStorage": DriverSpec(
            "LocalStorage", (_Arg("storage_path", "str", required=True),), _build_local
        ),
        "S3Storage": DriverSpec(
            "S3Storage",
            (
                _Arg("s3_bucket", "str", required=True),
                _Arg("storage_path", "prefix"),
                _Arg("s3_access_key", "str"),
                _Arg("s3_secret_key", "str"),
                _Arg("host", "str"),
                _Arg("port", "port"),
                _Arg("s3_region", "str"),
                _Arg("endpoint_url", "str"),
                _Arg("is_secure", "bool"),
                _Arg("presigned_redirect", "bool"),
            ),
            _build_s3,
            pairs=(("s3_access_key", "s3_secret_key"),),
        ),
        "RadosGWStorage": DriverSpec(
            "RadosGWStorage",
            (
                _Arg("hostname", "str", required=True),
                _Arg("port", "port"),
                _Arg("is_secure", "bool"),
                _Arg("access_key", "str", required=True),
                _Arg("secret_key", "str", required=True),
                _Arg("bucket_name", "str", required=True),
                _Arg("storage_path", "prefix"),
                _Arg("presigned_redirect", "bool"),
            ),
            _build_radosgw,
        ),
        "InMemoryStorage": DriverSpec("InMemoryStorage", (), _build_memory),
    }
)


def validate_storage_args(driver: str, args: object) -> list[str]:
    """Every problem with a driver's configuration at once (empty list: fine)."""
    spec = DRIVERS.get(driver)
    if spec is None:
        return [str(UnknownStorageDriver(driver, list(DRIVERS)))]
    return [message for _, message in spec.problems(args)]


def create_storage(driver: str, args: Mapping[str, Any] | None = None) -> BlobStorage:
    """Instantiate the driver registered as ``driver``; no I/O happens here."""
    spec = DRIVERS.get(driver)
    if spec is None:
        raise UnknownStorageDriver(driver, list(DRIVERS))
    args = {} if args is None else args
    problems = spec.problems(args)
    if problems:
        raise StorageConfigError(driver, problems[0][0], [m for _, m in problems])
    return spec.build(dict(args))
