"""deploy/kubernetes: both overlays render with ``kubectl kustomize``, every object validates
offline against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields are
errors), and what the objects say agrees with Berth: the config Berth would load from the
ConfigMap and Secret is valid, the commands exist, the probes and selectors line up."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from berth.cli import main as berth_cli
from berth.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
# the newest schemas kubernetes-validate bundles, and an older release still supported
K8S_VERSIONS = ("1.37.0", "1.31.0")


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not found (it renders kustomize): run scripts/install-test-deps")
    proc = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / overlay)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} objects"
    return found[0]


def containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(object name, pod spec, container) of every workload."""
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            pod = d["spec"]["template"]["spec"]
            out += [(d["metadata"]["name"], pod, c) for c in pod["containers"]]
    return out


@pytest.mark.parametrize("overlay", ["embedded", "distributed"])
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str, version: str) -> None:
    docs = render(overlay)
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_object() -> None:
    (deployment,) = [d for d in render("embedded") if d["kind"] == "Deployment"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    deployment["spec"]["replicas"] = 1
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_embedded_is_one_pod_on_a_volume() -> None:
    docs = render("embedded")
    server = by_kind(docs, "Deployment", "berth")
    assert server["spec"]["replicas"] == 1
    assert server["spec"]["strategy"]["type"] == "Recreate"  # one SQLite writer at a time
    pod = server["spec"]["template"]["spec"]
    (data,) = [v for v in pod["volumes"] if v["name"] == "data"]
    pvc = by_kind(docs, "PersistentVolumeClaim")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
    assert "HorizontalPodAutoscaler" not in {d["kind"] for d in docs}


def test_distributed_has_replicas_worker_migration_and_autoscaling() -> None:
    docs = render("distributed")
    server = by_kind(docs, "Deployment", "berth")
    worker = by_kind(docs, "Deployment", "berth-worker")
    job = by_kind(docs, "Job", "berth-db-upgrade")
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    assert server["spec"]["replicas"] >= 2
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "berth",
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] >= 2

    (c,) = server["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["serve"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health/instance", "port": "http"}, probe
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080}
    assert c["resources"]["requests"]["cpu"]
    assert c["resources"]["limits"]["memory"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]

    # the Service and the PodDisruptionBudget select the server pods, not the worker's
    labels = server["spec"]["template"]["metadata"]["labels"]
    service = by_kind(docs, "Service")
    pdb = by_kind(docs, "PodDisruptionBudget")
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
        assert not selector.items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("overlay", ["embedded", "distributed"])
def test_every_pod_runs_non_root_and_read_only(overlay: str) -> None:
    docs = render(overlay)
    config_map = by_kind(docs, "ConfigMap")["metadata"]["name"]
    for name, pod, c in containers(docs):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        # a Service named berth would inject BERTH_PORT=tcp://... into the environment
        assert pod["enableServiceLinks"] is False, name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        assert c["image"] == "registry.example.com/berth/berth:0.1.0", name
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert set(mounts) == {"/data", "/config", "/tmp"}, name
        (config,) = [v for v in pod["volumes"] if v["name"] == mounts["/config"]]
        assert config["configMap"]["name"] == config_map, name  # the generated name


def _berth_view(docs: list[dict[str, Any]], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """config.yaml from the ConfigMap, and the environment the Secret gives (if any)."""
    config = tmp_path / "config.yaml"
    config.write_text(by_kind(docs, "ConfigMap")["data"]["config.yaml"])
    secrets = [d for d in docs if d["kind"] == "Secret"]
    env = {k: base64.b64decode(v).decode() for s in secrets for k, v in s.get("data", {}).items()}
    return config, env


def test_berth_loads_the_embedded_config(tmp_path: Path) -> None:
    config, env = _berth_view(render("embedded"), tmp_path)
    settings = load_settings(config, data_dir=tmp_path / "data", env=env, persist_secrets=False)
    assert settings.is_sqlite
    assert settings.server_hostname == "registry.example.com"
    assert not settings.unknown_keys


def test_berth_loads_the_distributed_config_and_secrets(tmp_path: Path) -> None:
    docs = render("distributed")
    config, env = _berth_view(docs, tmp_path)
    for _name, _pod, c in containers(docs):
        assert c["envFrom"] == [
            {"secretRef": {"name": by_kind(docs, "Secret")["metadata"]["name"]}}
        ]
    settings = load_settings(config, data_dir=tmp_path / "data", env=env, persist_secrets=False)
    assert settings.db_url.startswith("postgresql+asyncpg://berth:")
    assert settings.storage.driver == "S3Storage"
    assert settings.storage.args["s3_bucket"] == "berth"
    assert settings.cache_redis == {
        "host": "redis.example.com",
        "port": 6379,
        "password": "CHANGE-ME",
    }
    assert settings.run_workers_in_process is False  # the worker Deployment runs the jobs
    assert settings.workers == 1
    assert not settings.unknown_keys


@pytest.mark.parametrize("args", [["serve"], ["worker"], ["db", "upgrade"]])
def test_the_commands_the_pods_run_exist(args: list[str]) -> None:
    result = CliRunner().invoke(berth_cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output
