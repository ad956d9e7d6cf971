"""Berth in-process over HTTP: a fresh registry per test, clients that do the token dance.

Every test that takes ``registry`` runs on both deployments of ``tests/conftest.py``
(``embedded``: SQLite + filesystem; ``distributed``: PostgreSQL + SeaweedFS S3). Setting a
registry up from scratch (migrations, argon2 password hashes, an RSA signing key) costs
about half a second, so it is done once per session into a template that each test copies:
a data directory for the embedded deployment, a ``CREATE DATABASE ... TEMPLATE`` clone for
the distributed one.

Users of every registry: ``alice`` and ``bob`` (plain users, each owning its namespace),
``root`` (superuser through ``SUPER_USERS``) and ``admin`` (created as a superuser).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from berth.config import Settings, load_settings
from berth.http.app import create_app
from berth.schema import migrate
from berth.services import create_services
from tests.conftest import distributed_config, embedded_config, write_config

HOST = "localhost:5000"
BASE_URL = f"http://{HOST}"
PASSWORDS = {
    "alice": "alice-password",
    "bob": "bob-password",
    "root": "root-password",
    "admin": "admin-password",
}
SUPERUSER_FLAG = {"admin"}  # root is a superuser through SUPER_USERS in the config

# Media types, spelled out here rather than imported: the suite judges Berth.
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

_seq = itertools.count()


# ------------------------------------------------------------------------------- content


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


def image_config(layers: list[bytes]) -> bytes:
    """A small runnable-image config whose diff_ids name the layers (content is unique)."""
    return canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [f"SEQ={next(_seq)}-{os.urandom(4).hex()}"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(x) for x in layers]},
        }
    )


def image_manifest(
    config: bytes,
    layers: list[bytes],
    *,
    media_type: str = OCI_MANIFEST,
    config_type: str | None = None,
    layer_type: str | None = None,
    with_media_type: bool = True,
    **extra: Any,
) -> bytes:
    docker = media_type == DOCKER_MANIFEST
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "config": descriptor(config_type or (DOCKER_CONFIG if docker else OCI_CONFIG), config),
        "layers": [
            descriptor(layer_type or (DOCKER_LAYER if docker else OCI_LAYER), x) for x in layers
        ],
        **extra,
    }
    if with_media_type:
        doc["mediaType"] = media_type
    return canonical(doc)


def index_manifest(
    children: list[tuple[str, bytes, dict[str, Any]]],
    *,
    media_type: str = OCI_INDEX,
    with_media_type: bool = True,
    **extra: Any,
) -> bytes:
    """``children``: (media type, manifest bytes, extra descriptor fields) each."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "manifests": [descriptor(mt, body, **more) for mt, body, more in children],
        **extra,
    }
    if with_media_type:
        doc["mediaType"] = media_type
    return canonical(doc)


@dataclass
class Pushed:
    """An image pushed by ``Client.push_image``: what a pull must give back."""

    repo: str
    tag: str | None
    manifest: bytes
    media_type: str
    config: bytes
    layers: list[bytes]

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def blobs(self) -> list[bytes]:
        return [self.config, *self.layers]


# --------------------------------------------------------------------------- assertions


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the spec's error envelope with ``code``; return that error entry."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status} {code}, "
        f"got {resp.status_code}: {resp.text[:500]}"
    )
    if resp.request.method == "HEAD":
        return {}
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict), body
    assert set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, list), body
    assert errors, body
    for err in errors:
        assert {"code", "message", "detail"} <= set(err), err
        assert isinstance(err["code"], str), err
        assert isinstance(err["message"], str), err
    codes = [e["code"] for e in errors]
    assert code in codes, f"expected {code} in {codes}: {body}"
    return next(e for e in errors if e["code"] == code)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="..",service=".."`` -> ("bearer", {realm:.., service:..})."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def token_access(token: str) -> dict[str, set[str]]:
    """repository name -> actions granted by a token (read without verifying it)."""
    out: dict[str, set[str]] = {}
    for entry in unverified_claims(token).get("access") or []:
        out.setdefault(entry["name"], set()).update(entry.get("actions") or [])
    return out


# ------------------------------------------------------------------------------ clients

_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags|referrers)/")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Client:
    """A registry client as docker/podman behave: try, follow the Bearer challenge, retry.

    ``basic=True`` sends HTTP Basic on every request instead (Berth accepts it on /v2).
    Tokens are kept per repository; a challenge asking for more actions gets a new token
    for everything asked so far on that repository.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        user: str | None,
        password: str | None = None,
        *,
        basic: bool = False,
    ) -> None:
        self.http = http
        self.user = user
        self.password = password if password is not None else PASSWORDS.get(user or "")
        self.basic = basic
        self.tokens: dict[str, str] = {}  # repository ("" for none) -> token
        self.actions: dict[str, set[str]] = {}
        self.token_requests = 0

    # ---- auth ----------------------------------------------------------------------------
    def _credentials(self) -> dict[str, str]:
        if self.user is None:
            return {}
        assert self.password is not None
        return {"Authorization": _basic(self.user, self.password)}

    async def token(self, *scopes: str, service: str = HOST) -> httpx.Response:
        """GET /v2/auth with this client's credentials (raw response)."""
        params = [("service", service), *(("scope", s) for s in scopes)]
        self.token_requests += 1
        return await self.http.get("/v2/auth", params=params, headers=self._credentials())

    async def login(self, repo: str, *actions: str, extra_scopes: tuple[str, ...] = ()) -> str:
        """Fetch and keep a token for ``repo`` (plus any extra scopes); return it."""
        scope = f"repository:{repo}:{','.join(actions)}"
        resp = await self.token(scope, *extra_scopes)
        assert resp.status_code == 200, resp.text
        tok = resp.json()["token"]
        self.tokens[repo] = tok
        self.actions.setdefault(repo, set()).update(actions)
        return tok

    async def _answer(self, challenge: str, repo: str) -> bool:
        """Get a token for ``repo`` (the name this client used in the URL, as docker does)
        with the actions the challenge asks for plus those asked for before."""
        scheme, params = parse_challenge(challenge)
        if scheme != "bearer" or "realm" not in params:
            return False
        scope = params.get("scope", "")
        query: list[tuple[str, str]] = [("service", params.get("service", HOST))]
        if scope.startswith("repository:"):
            have = self.actions.setdefault(repo, set())
            have |= set(scope.rpartition(":")[2].split(","))
            if repo:
                query.append(("scope", f"repository:{repo}:{','.join(sorted(have))}"))
        elif scope:  # another resource type (registry:catalog:*): ask for it as it is
            query.append(("scope", scope))
        realm = params["realm"]
        assert realm.startswith(BASE_URL), f"realm {realm} is not this registry"
        self.token_requests += 1
        resp = await self.http.get(realm, params=query, headers=self._credentials())
        if resp.status_code != 200:
            return False
        self.tokens[repo] = resp.json()["token"]
        return True

    @staticmethod
    def _repo_of(path: str) -> str:
        m = _REPO_PATH.match(path)
        return m.group("name") if m else ""

    def _auth_header(self, path: str) -> dict[str, str]:
        if self.basic:
            return self._credentials()
        tok = self.tokens.get(self._repo_of(path))
        return {"Authorization": f"Bearer {tok}"} if tok else {}

    # ---- requests ------------------------------------------------------------------------
    async def request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        path = urlsplit(url).path if url.startswith("http") else url.split("?", 1)[0]
        for attempt in range(2):
            hdrs = {**self._auth_header(path), **(headers or {})}
            resp = await self.http.request(method, url, headers=hdrs, **kw)
            replayable = isinstance(kw.get("content", b""), bytes | str)
            if resp.status_code != 401 or self.basic or attempt or not replayable:
                return resp
            challenge = resp.headers.get("www-authenticate", "")
            if not await self._answer(challenge, self._repo_of(path)):
                return resp
        return resp

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def head(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("HEAD", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    # ---- workflows -----------------------------------------------------------------------
    async def start_upload(self, repo: str) -> str:
        resp = await self.post(f"/v2/{repo}/blobs/uploads/")
        assert resp.status_code == 202, resp.text
        location = resp.headers["location"]
        assert location
        return location

    async def upload(
        self, repo: str, data: bytes, digest: str | None = None, *, single: bool = False
    ) -> str:
        """POST then a monolithic PUT (or one POST ?digest= when ``single``); the digest."""
        digest = digest or digest_of(data)
        if single:
            resp = await self.post(
                f"/v2/{repo}/blobs/uploads/",
                params={"digest": digest},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert resp.status_code == 201, resp.text
            assert resp.headers["docker-content-digest"] == digest
            return digest
        location = await self.start_upload(repo)
        resp = await self.put(
            location,
            params={"digest": digest},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert resp.status_code == 201, resp.text
        assert resp.headers["docker-content-digest"] == digest
        return digest

    async def put_manifest(
        self, repo: str, reference: str, body: bytes, media_type: str | None
    ) -> httpx.Response:
        headers = {"Content-Type": media_type} if media_type else {}
        return await self.put(f"/v2/{repo}/manifests/{reference}", content=body, headers=headers)

    async def push_manifest(
        self, repo: str, reference: str, body: bytes, media_type: str | None
    ) -> httpx.Response:
        resp = await self.put_manifest(repo, reference, body, media_type)
        assert resp.status_code == 201, f"{reference}: {resp.status_code} {resp.text}"
        assert resp.headers["docker-content-digest"] == digest_of(
            body, reference.split(":")[0] if ":" in reference else "sha256"
        )
        return resp

    async def push_image(
        self,
        repo: str,
        tag: str | None,
        *,
        layers: list[bytes] | None = None,
        media_type: str = OCI_MANIFEST,
        **extra: Any,
    ) -> Pushed:
        """Upload config and layers, then the manifest by tag (or by digest if no tag)."""
        layers = layers if layers is not None else [random_bytes(1024 + next(_seq) % 97)]
        config = image_config(layers)
        for blob in (config, *layers):
            await self.upload(repo, blob, single=True)
        manifest = image_manifest(config, layers, media_type=media_type, **extra)
        await self.push_manifest(repo, tag or digest_of(manifest), manifest, media_type)
        return Pushed(repo, tag, manifest, media_type, config, layers)


# ----------------------------------------------------------------------------- registry


@dataclass
class Berth:
    """One running Berth (ASGI app inside its lifespan) and ways to talk to it."""

    app: Any
    settings: Settings
    http: httpx.AsyncClient
    deployment: str

    def client(
        self, user: str | None = None, *, basic: bool = False, password: str | None = None
    ) -> Client:
        """A new client (own tokens) for ``user``; None is anonymous."""
        return Client(self.http, user, password, basic=basic)

    @property
    def services(self) -> Any:
        return self.app.state.services

    async def flush_pulls(self) -> None:
        """Write the buffered pulls now (the pull log flushes every second by itself)."""
        await self.services.pulls.flush()

    async def set_public(self, repo: str, public: bool = True) -> None:
        namespace, _, name = repo.partition("/")
        async with self.services.db.write() as s:
            result = await s.execute(
                text(
                    "UPDATE repositories SET is_public = :public WHERE name = :name AND "
                    "namespace_id = (SELECT id FROM namespaces WHERE name = :ns)"
                ),
                {"public": public, "name": name, "ns": namespace},
            )
            assert result.rowcount == 1, f"no repository {repo}"

    def issue_token(
        self,
        subject: str,
        access: list[dict[str, Any]],
        *,
        ttl_s: int = 300,
        audience: str = HOST,
        context: dict[str, Any] | None = None,
    ) -> str:
        """A token signed by the registry's own current key (for expiry/audience tests)."""
        return self.services.auth.keyring.issue(
            subject, access, audience=audience, ttl_s=ttl_s, context=context
        )


async def _populate(settings: Settings) -> None:
    """Migrations, users and a signing key: what every test registry starts with."""
    await migrate.upgrade(settings.db_url)
    services = create_services(settings)
    try:
        for name, password in PASSWORDS.items():
            await services.accounts.create_user(name, password, superuser=name in SUPERUSER_FLAG)
        # argon2 reads its cost from the stored hash: swap in cheap ones so that each
        # fresh registry's first login does not cost ~0.4 s per user (not what we test).
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        async with services.db.write() as s:
            for name, password in PASSWORDS.items():
                await s.execute(
                    text("UPDATE users SET password_hash = :h WHERE username = :u"),
                    {"h": cheap.hash(password), "u": name},
                )
        await services.start(run_jobs=False)  # creates the signing key
    finally:
        await services.close()


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated embedded data directory, copied by each embedded test."""
    root = tmp_path_factory.mktemp("berth-template")
    settings = load_settings(write_config(root, embedded_config(root)), env={})
    asyncio.run(_populate(settings))
    return root / "data"


@pytest.fixture(scope="session")
def distributed_template(postgres_url: str, s3_server: dict[str, str], tmp_path_factory) -> str:
    """Name of a populated PostgreSQL database that each distributed test clones."""
    root = tmp_path_factory.mktemp("berth-pg-template")
    config = distributed_config(root, postgres_url, s3_server)
    settings = load_settings(write_config(root, config), env={})
    asyncio.run(_populate(settings))
    return urlsplit(config["DB_URI"]).path.lstrip("/")


async def _clone_database(db_uri: str, template: str) -> None:
    """Replace the (empty) database of ``db_uri`` by a copy of ``template``."""
    parts = urlsplit(db_uri)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


@pytest.fixture
def registry_config(
    deployment: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """The deployment's config keys, its data directory or database copied from a template."""
    config = dict(deployment)
    assert config["SERVER_HOSTNAME"] == HOST
    if "DB_URI" in config:
        # In-process clients reach only the app: Berth serves S3 bytes itself here. The
        # default (redirects to presigned URLs) has its own tests and the e2e clients.
        config.setdefault("FEATURE_PROXY_STORAGE", True)
        name: str = request.getfixturevalue("distributed_template")
        asyncio.run(_clone_database(config["DB_URI"], name))
    else:
        template: Path = request.getfixturevalue("embedded_template")
        shutil.copytree(template, Path(config["BERTH_DATA_DIR"]))
    return config


@pytest.fixture
async def registry(registry_config: dict[str, Any], tmp_path: Path) -> AsyncIterator[Berth]:
    """A fresh, populated Berth on the deployment under test, served in-process."""
    kind = "distributed" if "DB_URI" in registry_config else "embedded"
    settings = load_settings(write_config(tmp_path, registry_config), env={})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Berth(app, settings, http, kind)


@pytest.fixture
def alice(registry: Berth) -> Client:
    return registry.client("alice")


@pytest.fixture
def bob(registry: Berth) -> Client:
    return registry.client("bob")


@pytest.fixture
def root(registry: Berth) -> Client:
    return registry.client("root")


@pytest.fixture
def anon(registry: Berth) -> Client:
    return registry.client(None)
