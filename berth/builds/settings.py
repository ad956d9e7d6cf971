"""The builds' configuration section: FEATURE_BUILD_SUPPORT, FEATURE_READER_BUILD_LOGS,
Quay's ``BUILD_MANAGER`` (which executor runs builds, with its limits) and Berth's own
``BERTH_BUILD_*`` keys (context size limits, queue and concurrency bounds, how the builder
reaches Berth).

Built once by ``berth.config.load_settings``; this package never reads the config file.

``BUILD_MANAGER`` keeps Quay's shape, ``[manager_name, {ALLOWED_WORKER_COUNT, EXECUTORS:
[{EXECUTOR: ..., ...}]}]``; Berth uses the first executor, ``local`` (buildah on the worker,
the default) or ``kubernetes`` (a Job per build). Keys of an executor Berth reads:

* both: ``CONTAINER_MEMORY_LIMITS`` ("2G"), ``CONTAINER_CPU_LIMITS`` (cores, "1" or "500m"),
  ``MAXIMUM_BUILD_TIME`` (a duration, "1h"), ``BUILDER_NETWORK`` (``none``, the default:
  RUN steps have no network; ``host``; ``private``), ``MAX_BUILD_DISK`` ("10G": the build's
  storage directory, checked while it runs);
* local: ``BUILDAH_PATH`` (default ``buildah`` on PATH), ``ISOLATION`` (``oci``, the
  default: RUN steps in a runc container; ``rootless``; ``chroot`` only with
  ``BUILDER_NETWORK: host``);
* kubernetes: ``BUILDER_NAMESPACE``, ``BUILDER_IMAGE`` (Berth's image, which carries
  buildah), ``K8S_API_SERVER`` (None: in-cluster config), ``K8S_API_TLS_CA``,
  ``SERVICE_ACCOUNT_TOKEN``, ``NODE_SELECTOR_LABEL_KEY``/``_VALUE``,
  ``VOLUME_SIZE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.durations import parse_duration

EXECUTORS = ("local", "kubernetes")
NETWORKS = ("none", "host", "private")
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    kind: str = "local"
    memory_bytes: int | None = 2 * 1024**3
    cpu_millis: int | None = 1000
    timeout_s: int = 3600
    network: str = "none"
    max_disk_bytes: int | None = 10 * 1024**3
    buildah: str = "buildah"
    isolation: str = "oci"
    options: dict[str, Any] = field(default_factory=dict)  # the executor's other keys


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """FEATURE_BUILD_SUPPORT: the build routes and the build runner (Quay's default: on).
    FEATURE_READER_BUILD_LOGS: readers (not only writers) may read build logs.

    BERTH_BUILD_MAX_CONTEXT_BYTES: the largest uploaded or fetched context (the archive as
    sent); BERTH_BUILD_MAX_UNPACKED_BYTES / BERTH_BUILD_MAX_FILES: what it may unpack to
    (a decompression bomb stops there); BERTH_BUILD_MAX_QUEUED: builds a namespace may have
    waiting (more: 429); BERTH_BUILD_CONCURRENCY: builds running at once, ``total`` and
    ``per_namespace``; BERTH_BUILD_REGISTRY: the host[:port] the builder reaches Berth by
    (pulling base images, pushing the result; default SERVER_HOSTNAME) and
    BERTH_BUILD_REGISTRY_TLS_VERIFY (default: on when PREFERRED_URL_SCHEME is https);
    BERTH_BUILD_WORK_DIR: where the local executor keeps each build's storage (default
    ``<data dir>/builds``); BERTH_BUILD_TOKEN_TTL: seconds the push token lives (made when
    the push starts; at most 3600, the registry's longest token)."""

    enabled: bool = True
    reader_logs: bool = False
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    max_context_bytes: int = 256 * 1024**2
    max_unpacked_bytes: int = 2 * 1024**3
    max_files: int = 100_000
    max_queued: int = 20
    max_running: int = 2
    max_running_per_namespace: int = 1
    registry: str = "localhost:5000"
    registry_tls_verify: bool = False
    work_dir: Path = Path("berth-data/builds")
    token_ttl_s: int = 3600
    retries: int = 1


def parse_size(value: int | str | None, key: str, problems: list[str]) -> int | None:
    """``2G``, ``500M``, ``1024`` (bytes); None stays None (no limit)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _SIZE_UNITS and text[-1:] else ""
    try:
        return int(float(text[: len(text) - len(unit)]) * _SIZE_UNITS[unit])
    except ValueError:
        problems.append(f"{key}: a size like 2G or 500M, not {value!r}")
        return None


def parse_cpu(value: int | float | str | None, key: str, problems: list[str]) -> int | None:
    """Kubernetes' CPU quantity as thousandths of a core: ``1`` -> 1000, ``500m`` -> 500."""
    if value is None:
        return None
    text = str(value).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", text)
    if not m:
        problems.append(f"{key}: cores like 1, 0.5 or 500m, not {value!r}")
        return None
    n = float(m.group(1))
    return int(n if m.group(2) else n * 1000)


def executor_settings(build_manager: Any, problems: list[str]) -> ExecutorSettings:
    """The first executor of Quay's ``BUILD_MANAGER`` (None: the local executor)."""
    if build_manager is None:
        return ExecutorSettings()
    if (
        not isinstance(build_manager, list)
        or len(build_manager) != 2
        or not isinstance(build_manager[1], dict)
    ):
        problems.append("BUILD_MANAGER: [name, {EXECUTORS: [{EXECUTOR: local|kubernetes, ...}]}]")
        return ExecutorSettings()
    executors = build_manager[1].get("EXECUTORS") or [{"EXECUTOR": "local"}]
    if not isinstance(executors, list) or not isinstance(executors[0], dict):
        problems.append("BUILD_MANAGER: EXECUTORS is a list of executor objects")
        return ExecutorSettings()
    ex = dict(executors[0])
    kind = str(ex.pop("EXECUTOR", "local"))
    if kind not in EXECUTORS:
        problems.append(f"BUILD_MANAGER: EXECUTOR {kind!r} is not one of {', '.join(EXECUTORS)}")
    network = str(ex.pop("BUILDER_NETWORK", "none"))
    if network not in NETWORKS:
        problems.append(f"BUILD_MANAGER: BUILDER_NETWORK is one of {', '.join(NETWORKS)}")
    try:
        timeout_s = parse_duration(ex.pop("MAXIMUM_BUILD_TIME", "1h"))
    except ValueError as e:
        problems.append(f"BUILD_MANAGER: MAXIMUM_BUILD_TIME: {e}")
        timeout_s = 3600
    isolation = str(ex.pop("ISOLATION", "oci"))
    if isolation not in ("chroot", "rootless", "oci"):
        problems.append("BUILD_MANAGER: ISOLATION is chroot, rootless or oci")
    if isolation == "chroot" and network != "host":
        problems.append(
            "BUILD_MANAGER: ISOLATION chroot needs BUILDER_NETWORK host (buildah cannot take "
            "the network away from a chroot); use oci or rootless"
        )
    defaults = ExecutorSettings()
    memory = ex.pop("CONTAINER_MEMORY_LIMITS", defaults.memory_bytes)
    cpu = ex.pop("CONTAINER_CPU_LIMITS", "1")
    disk = ex.pop("MAX_BUILD_DISK", defaults.max_disk_bytes)
    return ExecutorSettings(
        kind=kind,
        memory_bytes=parse_size(memory, "BUILD_MANAGER: CONTAINER_MEMORY_LIMITS", problems),
        cpu_millis=parse_cpu(cpu, "BUILD_MANAGER: CONTAINER_CPU_LIMITS", problems),
        timeout_s=timeout_s,
        network=network,
        max_disk_bytes=parse_size(disk, "BUILD_MANAGER: MAX_BUILD_DISK", problems),
        buildah=str(ex.pop("BUILDAH_PATH", "buildah")),
        isolation=isolation,
        options=ex,
    )


def concurrency(value: dict[str, Any] | None, problems: list[str]) -> tuple[int, int]:
    """BERTH_BUILD_CONCURRENCY ``{total, per_namespace}`` (defaults 2 and 1)."""
    value = dict(value or {})
    total, per_ns = value.pop("total", 2), value.pop("per_namespace", 1)
    if value:
        problems.append(f"BERTH_BUILD_CONCURRENCY: unknown keys {', '.join(sorted(value))}")
    if not (isinstance(total, int) and total >= 1 and isinstance(per_ns, int) and per_ns >= 1):
        problems.append("BERTH_BUILD_CONCURRENCY: total and per_namespace are integers >= 1")
        return 2, 1
    return total, min(per_ns, total)
