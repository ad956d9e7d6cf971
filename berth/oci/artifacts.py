"""Which OCI artifacts a registry accepts: Quay's ``FEATURE_GENERAL_OCI_SUPPORT`` and
``ALLOWED_OCI_ARTIFACT_TYPES``.

A container image (an OCI or Docker manifest whose config is an image config and whose
layers are image layers, zstd included) is always accepted, and so is every index. Anything
else is an artifact; an artifact's type is its config media type, or its ``artifactType``
when the config is OCI's empty placeholder (OCI 1.1).

- ``FEATURE_GENERAL_OCI_SUPPORT: false``: artifacts are refused.
- ``ALLOWED_OCI_ARTIFACT_TYPES`` not set: every artifact is accepted (OCI 1.1 artifacts,
  the referrers API's signatures and SBOMs).
- ``ALLOWED_OCI_ARTIFACT_TYPES`` set (artifact type -> allowed layer media types): an
  artifact is accepted when its type is listed (or built in) and every layer's media type
  is allowed for it. Built in, as in Quay: Helm charts, cosign signatures, attestations and
  SBOMs on an image config, and zstd layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from berth.oci.manifest import ManifestInvalid, ParsedManifest
from berth.oci.mediatypes import (
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    FOREIGN_LAYER_TYPES,
    IMAGE_CONFIG_TYPES,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
)

__all__ = ["BUILT_IN_ARTIFACT_TYPES", "IMAGE_LAYER_TYPES", "ArtifactRefused", "ArtifactRules"]

IMAGE_LAYER_TYPES: frozenset[str] = frozenset(
    {OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER, *FOREIGN_LAYER_TYPES}
)

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"

# Quay's defaults: what stays allowed whatever ALLOWED_OCI_ARTIFACT_TYPES lists.
BUILT_IN_ARTIFACT_TYPES: Mapping[str, frozenset[str]] = {
    OCI_CONFIG: frozenset(
        {
            "application/vnd.dev.cosign.simplesigning.v1+json",
            "application/vnd.dsse.envelope.v1+json",
            "text/spdx",
            "text/spdx+xml",
            "text/spdx+json",
            "application/vnd.syft+json",
            "application/vnd.cyclonedx",
            "application/vnd.cyclonedx+xml",
            "application/vnd.cyclonedx+json",
            "application/vnd.in-toto+json",
        }
    ),
    HELM_CONFIG: frozenset(
        {"application/tar+gzip", "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}
    ),
}


class ArtifactRefused(ManifestInvalid):
    """The manifest is an artifact of a type this registry does not accept."""


@dataclass(frozen=True)
class ArtifactRules:
    general_oci_support: bool = True
    # None: every artifact type; otherwise type -> allowed layer types (built-ins added).
    allowed: Mapping[str, frozenset[str]] | None = None
    _merged: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        merged = {k: frozenset(v) for k, v in BUILT_IN_ARTIFACT_TYPES.items()}
        for kind, layers in (self.allowed or {}).items():
            merged[kind] = merged.get(kind, frozenset()) | frozenset(layers)
        object.__setattr__(self, "_merged", merged)

    @classmethod
    def from_config(
        cls, general_oci_support: bool, allowed: Mapping[str, list[str]] | None
    ) -> ArtifactRules:
        return cls(
            general_oci_support,
            None if allowed is None else {k: frozenset(v) for k, v in allowed.items()},
        )

    def check(self, manifest: ParsedManifest) -> None:
        """Raise ArtifactRefused when ``manifest`` is an artifact this registry refuses."""
        if manifest.is_index or manifest.config is None:
            return
        config_type = manifest.config.media_type
        layer_types = [layer.media_type for layer in manifest.layers]
        is_image = (
            config_type in IMAGE_CONFIG_TYPES
            and manifest.artifact_type is None
            and all(t in IMAGE_LAYER_TYPES for t in layer_types)
        )
        if is_image or manifest.media_type == DOCKER_MANIFEST:
            return
        kind = manifest.artifact_type if config_type == OCI_EMPTY else config_type
        kind = kind or config_type
        if not self.general_oci_support:
            raise ArtifactRefused(
                f"artifacts are not accepted by this registry (type {kind}): "
                "FEATURE_GENERAL_OCI_SUPPORT is off",
                {"artifactType": kind},
            )
        if self.allowed is None:
            return
        allowed_layers = self._merged.get(kind)
        if allowed_layers is None:
            raise ArtifactRefused(
                f"artifact type {kind} is not in ALLOWED_OCI_ARTIFACT_TYPES",
                {"artifactType": kind},
            )
        if config_type in IMAGE_CONFIG_TYPES:
            allowed_layers = allowed_layers | IMAGE_LAYER_TYPES
        for i, t in enumerate(layer_types):
            if t not in allowed_layers:
                raise ArtifactRefused(
                    f"layers[{i}].mediaType: {t} is not allowed for artifact type {kind} "
                    "(ALLOWED_OCI_ARTIFACT_TYPES)",
                    {"path": f"layers[{i}].mediaType", "artifactType": kind, "mediaType": t},
                )
