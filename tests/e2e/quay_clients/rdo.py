"""RDO's Quay automation (sf-infra ``roles/rdo/quay``), replayed: the bootstrap task, the
user-provisioning task and ``quay_tag_pruner.py`` (quay-api.md section 6.2)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.quay_clients.base import ClientFailed, raise_for_status, session

DAY_S = 86400


def bootstrap(base_url: str, username: str, password: str, email: str, retries: int = 3) -> str:
    """``tasks/bootstrap.yml``: POST user/initialize until the body holds ``access_token``
    (status must be 200); returns the token RDO saves as the admin token."""
    body = {"username": username, "password": password, "email": email, "access_token": True}
    last: httpx.Response | None = None
    for _ in range(retries):
        last = httpx.post(f"{base_url}/api/v1/user/initialize", json=body, timeout=60.0)
        if last.status_code == 200 and "access_token" in last.json():
            return str(last.json()["access_token"])
    assert last is not None
    raise ClientFailed(f"bootstrap failed: {last.status_code} {last.text}", last)


def provision_user(base_url: str, admin_token: str, username: str, email: str) -> str | None:
    """``tasks/get_user_pass.yml``: create a user as superuser; 200 gives its temporary
    password, 400 means it exists already (None). Anything else fails the play."""
    resp = httpx.post(
        f"{base_url}/api/v1/superuser/users/",
        json={"username": username, "email": email},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=60.0,
    )
    if resp.status_code not in (200, 400):
        raise ClientFailed(f"user creation: {resp.status_code} {resp.text}", resp)
    return str(resp.json()["password"]) if resp.status_code == 200 else None


@dataclass
class TagPruner:
    """``quay_tag_pruner.py`` for one organization: anonymous reads, token-authorised writes."""

    api_url: str  # https://host/api/v1
    namespace: str
    token: str
    days: int
    keep: tuple[str, ...] = ()  # promoted hashes: a tag containing one of them is kept

    def repositories(self) -> list[str]:
        """Public repositories of the namespace, without any Authorization header."""
        names: list[str] = []
        params = {"namespace": self.namespace, "public": "true"}
        with session() as anon:
            while True:
                resp = anon.get(f"{self.api_url}/repository", params=params)
                page = raise_for_status(resp).json()
                names += [r["name"] for r in page["repositories"]]
                if not page.get("next_page"):
                    return names
                params = {**params, "next_page": page["next_page"]}

    def tags(self, repository: str) -> list[dict[str, Any]]:
        """Active tags page by page, anonymously; any error gives an empty list."""
        found: list[dict[str, Any]] = []
        page = 1
        with session() as anon:
            while True:
                resp = anon.get(
                    f"{self.api_url}/repository/{self.namespace}/{repository}/tag/",
                    params={"onlyActiveTags": "true", "page": str(page)},
                )
                if resp.status_code != 200:
                    return []
                data = resp.json()
                found += data["tags"]
                if not data.get("has_additional"):
                    return found
                page += 1

    def _prunable(self, tag: dict[str, Any], now: float) -> bool:
        if any(h in tag["name"] for h in self.keep) or tag.get("end_ts") is not None:
            return False
        return int(tag["start_ts"]) <= now - self.days * DAY_S

    def run(self) -> list[tuple[str, str]]:
        """Expire (now + 1 day) every old, unkept, unexpiring tag; returns what it expired."""
        now = time.time()
        expired = []
        with session() as http:
            for repo in self.repositories():
                for tag in self.tags(repo):
                    if not self._prunable(tag, now):
                        continue
                    resp = http.put(
                        f"{self.api_url}/repository/{self.namespace}/{repo}/tag/{tag['name']}",
                        content=json.dumps({"expiration": int(now) + DAY_S}),
                        headers={
                            "content-type": "application/json",
                            "Authorization": f"Bearer {self.token}",
                        },
                    )
                    raise_for_status(resp)
                    expired.append((repo, tag["name"]))
        return expired
