"""The Kubernetes executor's Job, validated against the Kubernetes schemas (no cluster).

What is NOT tested here: ``KubernetesExecutor.run`` against an API server (creating the
Secret and the Job, following the pod's log, deleting both), and the builder script inside
Berth's real image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from berth.builds.executors import BuildSpec, Credentials
from berth.builds.kubernetes import KubernetesExecutor
from berth.builds.settings import executor_settings

K8S_VERSIONS = ("1.37.0", "1.31.0")
UUID = "0f6a1f0e-8f87-4c3e-9d55-3a9b1a1e2b3c"


def executor(**keys: Any) -> KubernetesExecutor:
    problems: list[str] = []
    ex = executor_settings(
        ["ephemeral", {"EXECUTORS": [{"EXECUTOR": "kubernetes", **keys}]}], problems
    )
    assert not problems
    return KubernetesExecutor(ex)


def spec(tmp_path: Path) -> BuildSpec:
    return BuildSpec(
        uuid=UUID,
        work_dir=tmp_path,
        context_dir=tmp_path / "context",
        context_subdir="app",
        dockerfile="app/Dockerfile",
        registry="registry.example:443",
        repository="acme/app",
        tags=("v1", "latest"),
        tls_verify=True,
        push=lambda: Credentials("$buildtoken", "push-secret"),
        pull=Credentials("acme+puller", "robot-secret"),
        context_url="https://registry.example/api/v1/x",
    )


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_job_and_secret_validate(tmp_path: Path, version: str) -> None:
    ex = executor(BUILDER_NAMESPACE="builds", BUILDER_IMAGE="registry.example/berth:1")
    s = spec(tmp_path)
    kubernetes_validate.validate(ex.job_manifest(s), version, strict=True)
    kubernetes_validate.validate(ex.secret_manifest(s, s.push()), version, strict=True)


def test_the_job_is_bounded_and_sees_no_cluster_credentials(tmp_path: Path) -> None:
    ex = executor(
        BUILDER_IMAGE="registry.example/berth:1",
        CONTAINER_MEMORY_LIMITS="1G",
        CONTAINER_CPU_LIMITS="2",
        MAXIMUM_BUILD_TIME="20m",
        MAX_BUILD_DISK="4G",
        NODE_SELECTOR_LABEL_KEY="berth/builders",
        NODE_SELECTOR_LABEL_VALUE="yes",
    )
    job = ex.job_manifest(spec(tmp_path))
    assert job["metadata"]["name"] == f"berth-build-{UUID}"[:63]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 1200
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["nodeSelector"] == {"berth/builders": "yes"}
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/berth:1"
    assert container["resources"]["limits"] == {
        "cpu": "2000m",
        "memory": "1024Mi",
        "ephemeral-storage": "4096Mi",
    }
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["IMAGE"] == "registry.example:443/acme/app"
    assert env["TAGS"] == "v1 latest"
    # no credential in the Job itself: they come from the build's Secret
    text = repr(job)
    assert "push-secret" not in text
    assert "robot-secret" not in text
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["auth"]["secret"]["secretName"] == job["metadata"]["name"]
    assert volumes["workspace"]["emptyDir"]["sizeLimit"] == "4096Mi"
