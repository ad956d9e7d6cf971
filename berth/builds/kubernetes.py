"""The Kubernetes executor: each build is a Job running Berth's own image (which carries
buildah), written against the official ``kubernetes`` client.

``job_manifest(spec)`` is the Job (a dict in the API's camelCase, as ``kubectl`` would
send it; tests validate it against the Kubernetes schemas): one pod, never restarted
(``backoffLimit: 0``), killed at ``activeDeadlineSeconds`` (MAXIMUM_BUILD_TIME), removed
ten minutes after it ends; no service-account token, no service links; the builder
container with the CPU, memory and ephemeral-storage limits, ``allowPrivilegeEscalation:
false``; the workspace an ``emptyDir`` with ``sizeLimit`` MAX_BUILD_DISK; the pull and
push auth files from a Secret made for the build (deleted with it; its owner is the Job).
The pod downloads the checked context from Berth (``context_url``, with the build's push
token), then runs ``buildah bud`` and ``buildah push`` and prints the pushed digest on a
``BERTH-DIGEST`` line. RUN steps run in a chroot inside the pod: the pod is the sandbox,
and its network is what the cluster's NetworkPolicies allow.

``run`` creates the Secret and the Job, follows the pod's log into the build log, and
deletes both when the build is cancelled, fails or ends. What is tested here without a
cluster: the manifest (schema-valid, limits, no token, the secret's use). What is not:
``run`` against an API server, and the builder script inside the real image.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from typing import Any

from berth.builds.executors import (
    STEP_RE,
    BuildCancelled,
    BuildFailed,
    BuildOutput,
    BuildResult,
    BuildSpec,
    Credentials,
    mask,
)
from berth.builds.settings import ExecutorSettings
from berth.builds.types import Phase

DIGEST_RE = re.compile(r"^BERTH-DIGEST (\S+) (sha256:[0-9a-f]{64})$")
IMAGE_RE = re.compile(r"^BERTH-IMAGE-ID (\S+)$")

SCRIPT = r"""set -eu
cd /workspace
python3 - <<'PY'
import os, urllib.request
req = urllib.request.Request(os.environ["CONTEXT_URL"])
req.add_header("Authorization", "Bearer " + open("/var/run/berth-build/context-token").read())
with urllib.request.urlopen(req) as r, open("/workspace/context.tar", "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
mkdir -p src && tar -xf context.tar -C src --no-same-owner --no-same-permissions && rm context.tar
set -- ; for t in $TAGS; do set -- "$@" -t "$IMAGE:$t"; done
buildah --storage-driver vfs bud --isolation chroot --layers=false --pull=true \
  --authfile /var/run/berth-build/pull-auth.json --tls-verify="$TLS_VERIFY" \
  --iidfile /workspace/iid -f "src/$DOCKERFILE" "$@" "src/$CONTEXT_SUBDIR"
echo "BERTH-IMAGE-ID $(cat /workspace/iid)"
for t in $TAGS; do
  echo "Pushing $IMAGE:$t"
  buildah --storage-driver vfs push --authfile /var/run/berth-build/push-auth.json \
    --tls-verify="$TLS_VERIFY" --digestfile /workspace/digest "$(cat /workspace/iid)" \
    "docker://$IMAGE:$t"
  echo "BERTH-DIGEST $t $(cat /workspace/digest)"
done
"""


def _auth(registry: str, creds: Credentials | None) -> str:
    auths = {}
    if creds is not None:
        raw = f"{creds.username}:{creds.password}".encode()
        auths[registry] = {"auth": base64.b64encode(raw).decode()}
    return json.dumps({"auths": auths})


def _name(spec: BuildSpec) -> str:
    return f"berth-build-{spec.uuid}"[:63].rstrip("-")


def _quantity_bytes(n: int) -> str:
    return f"{max(1, n // (1024 * 1024))}Mi"


class KubernetesExecutor:
    name = "kubernetes"

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        opts = settings.options
        self.namespace = str(opts.get("BUILDER_NAMESPACE", "berth-builds"))
        self.image = str(opts.get("BUILDER_IMAGE", "berth:latest"))
        self.api_server = opts.get("K8S_API_SERVER")
        self.ca = opts.get("K8S_API_TLS_CA")
        self.token = opts.get("SERVICE_ACCOUNT_TOKEN")
        self.node_selector = (
            {str(opts["NODE_SELECTOR_LABEL_KEY"]): str(opts.get("NODE_SELECTOR_LABEL_VALUE", ""))}
            if opts.get("NODE_SELECTOR_LABEL_KEY")
            else None
        )

    # ---- the manifests ----------------------------------------------------------------------
    def secret_manifest(self, spec: BuildSpec, push: Credentials) -> dict[str, Any]:
        data = {
            "pull-auth.json": _auth(spec.registry, spec.pull),
            "push-auth.json": _auth(spec.registry, push),
            "context-token": push.password,
        }
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": _name(spec),
                "namespace": self.namespace,
                "labels": self._labels(spec),
            },
            "type": "Opaque",
            "stringData": data,
        }

    def _labels(self, spec: BuildSpec) -> dict[str, str]:
        return {"app.kubernetes.io/name": "berth-builder", "berth.build/uuid": spec.uuid}

    def job_manifest(self, spec: BuildSpec) -> dict[str, Any]:
        s = self.settings
        limits: dict[str, str] = {}
        if s.cpu_millis:
            limits["cpu"] = f"{s.cpu_millis}m"
        if s.memory_bytes:
            limits["memory"] = _quantity_bytes(s.memory_bytes)
        if s.max_disk_bytes:
            limits["ephemeral-storage"] = _quantity_bytes(s.max_disk_bytes)
        workspace: dict[str, Any] = {"name": "workspace", "emptyDir": {}}
        if s.max_disk_bytes:
            workspace["emptyDir"]["sizeLimit"] = _quantity_bytes(s.max_disk_bytes)
        env = {
            "CONTEXT_URL": spec.context_url or "",
            "IMAGE": spec.image,
            "TAGS": " ".join(spec.tags),
            "DOCKERFILE": spec.dockerfile,
            "CONTEXT_SUBDIR": spec.context_subdir or ".",
            "TLS_VERIFY": "true" if spec.tls_verify else "false",
            "BUILDAH_ISOLATION": "chroot",
            "HOME": "/workspace",
            "TMPDIR": "/workspace",
            "STORAGE_DRIVER": "vfs",
        }
        pod: dict[str, Any] = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                {
                    "name": "builder",
                    "image": self.image,
                    "command": ["/bin/sh", "-c", SCRIPT],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "resources": {"limits": limits, "requests": dict(limits)},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["NET_RAW"]},
                    },
                    "volumeMounts": [
                        {"name": "workspace", "mountPath": "/workspace"},
                        {"name": "auth", "mountPath": "/var/run/berth-build", "readOnly": True},
                    ],
                }
            ],
            "volumes": [
                workspace,
                {
                    "name": "auth",
                    "secret": {"secretName": _name(spec), "defaultMode": 0o400},
                },
            ],
        }
        if self.node_selector:
            pod["nodeSelector"] = self.node_selector
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": _name(spec),
                "namespace": self.namespace,
                "labels": self._labels(spec),
            },
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": s.timeout_s,
                "ttlSecondsAfterFinished": 600,
                "template": {"metadata": {"labels": self._labels(spec)}, "spec": pod},
            },
        }

    # ---- running (not tested without a cluster) ---------------------------------------------
    def _client(self) -> Any:
        from kubernetes import client, config  # the client loads only for this executor

        if self.api_server:
            cfg = client.Configuration()
            cfg.host = str(self.api_server)
            if self.ca:
                cfg.ssl_ca_cert = str(self.ca)
            if self.token:
                cfg.api_key = {"authorization": f"Bearer {self.token}"}
            return client.ApiClient(cfg)
        config.load_incluster_config()
        return client.ApiClient()

    async def run(self, spec: BuildSpec, out: BuildOutput, cancelled: asyncio.Event) -> BuildResult:
        from kubernetes import client

        if not spec.context_url:
            raise RuntimeError("the Kubernetes executor needs a context URL")
        api = await asyncio.to_thread(self._client)
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        name = _name(spec)
        push = (
            spec.push()
        )  # lives BERTH_BUILD_TOKEN_TTL (at most an hour): the pod must push by then
        secrets = [*spec.secrets(), push.password]
        await asyncio.to_thread(
            core.create_namespaced_secret, self.namespace, self.secret_manifest(spec, push)
        )
        try:
            await asyncio.to_thread(
                batch.create_namespaced_job, self.namespace, self.job_manifest(spec)
            )
            await out.phase(Phase.PULLING)
            pod = await self._pod(core, name, cancelled)
            image_id, digest = "", None
            phase = Phase.PULLING
            offset = 0
            while True:
                text = await asyncio.to_thread(
                    core.read_namespaced_pod_log, pod, self.namespace, container="builder"
                )
                lines = str(text).splitlines()
                for line in lines[offset:]:
                    line = mask(line, secrets)
                    if m := IMAGE_RE.match(line):
                        image_id = m.group(1)
                    elif m := DIGEST_RE.match(line):
                        digest = m.group(2)
                    elif line.startswith("Pushing ") and phase != Phase.PUSHING:
                        phase = Phase.PUSHING
                        await out.phase(phase)
                        await out.command(line)
                    elif STEP_RE.match(line):
                        if phase == Phase.PULLING and " FROM " not in line:
                            phase = Phase.BUILDING
                            await out.phase(phase)
                        await out.command(line)
                    else:
                        await out.output(line)
                offset = len(lines)
                status = await asyncio.to_thread(
                    core.read_namespaced_pod_status, pod, self.namespace
                )
                if status.status.phase == "Succeeded":
                    return BuildResult(image_id, digest)
                if status.status.phase == "Failed":
                    raise BuildFailed("the build failed (the builder pod ended in Failed)")
                if cancelled.is_set():
                    raise BuildCancelled()
                await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    batch.delete_namespaced_job,
                    name,
                    self.namespace,
                    propagation_policy="Background",
                )
            with contextlib.suppress(Exception):
                await asyncio.to_thread(core.delete_namespaced_secret, name, self.namespace)

    async def _pod(self, core: Any, job: str, cancelled: asyncio.Event) -> str:
        while True:
            pods = await asyncio.to_thread(
                core.list_namespaced_pod, self.namespace, label_selector=f"job-name={job}"
            )
            for pod in pods.items:
                if pod.status.phase in ("Running", "Succeeded", "Failed"):
                    return str(pod.metadata.name)
            if cancelled.is_set():
                raise BuildCancelled()
            await asyncio.sleep(1.0)
