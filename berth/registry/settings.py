"""The registry's configuration section: names, pushes, manifests, tags and labels.

Built once by ``berth.config.load_settings`` from Quay's keys (this package never reads the
config file); the defaults are Quay's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.oci.artifacts import ArtifactRules

HOUR_S = 3600
DAY_S = 24 * HOUR_S
WEEK_S = 7 * DAY_S


@dataclass(frozen=True, slots=True)
class TagSettings:
    """The config keys behind tags: FEATURE_IMMUTABLE_TAGS(_CAN_EXPIRE),
    LABELED_EXPIRATION_MINIMUM/MAXIMUM and LABEL_KEY_RESERVED_PREFIXES."""

    immutable_tags: bool = False
    immutable_can_expire: bool = False
    min_expiration_s: int = HOUR_S
    max_expiration_s: int = 104 * WEEK_S
    reserved_label_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """LIBRARY_NAMESPACE (None when FEATURE_LIBRARY_SUPPORT is off), REGISTRY_STATE and
    DISABLE_PUSHES (``read_only``), CREATE_PRIVATE_REPO_ON_PUSH, CREATE_NAMESPACE_ON_PUSH,
    DEFAULT_TAG_EXPIRATION and TAG_EXPIRATION_OPTIONS (seconds), BERTH_MAX_MANIFEST_BYTES,
    FEATURE_GENERAL_OCI_SUPPORT and ALLOWED_OCI_ARTIFACT_TYPES (``artifacts``), and the tag
    keys."""

    library_namespace: str | None = "library"
    read_only: bool = False
    create_private_on_push: bool = True
    create_namespace_on_push: bool = False
    default_tag_expiration_s: int = 2 * WEEK_S
    tag_expiration_options: frozenset[int] = frozenset({0, DAY_S, WEEK_S, 2 * WEEK_S, 4 * WEEK_S})
    max_manifest_bytes: int = 4 * 1024 * 1024
    artifacts: ArtifactRules = field(default_factory=ArtifactRules)
    tags: TagSettings = field(default_factory=TagSettings)
    # FEATURE_IMAGE_PULL_STATS: pull counters (at the pull log's flush) and their routes.
    pull_stats: bool = False


def check_label_prefixes(prefixes: list[str]) -> None:
    """LABEL_KEY_RESERVED_PREFIXES: every prefix ends in a dot (``com.example.``)."""
    bad = [p for p in prefixes if not p.endswith(".")]
    if bad:
        raise ValueError(f"every prefix must end in a dot: {', '.join(map(repr, bad))}")
