"""python-quay-tool (``quaytool``), replayed: one method per CLI action of seed 003.

Every call goes to ``--api-url`` (which contains ``/api/v1``) with ``Authorization: Bearer``
and ``content-type: application/json``, through python-requests (redirects followed). What
each action sends and which answers it accepts is quay-api.md section 6.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.quay_clients.base import ClientFailed, raise_for_status, session


@dataclass
class QuayTool:
    """``quaytool --api-url API --token TOKEN --organization ORG ...``"""

    api_url: str
    token: str
    organization: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        assert "/api/v" in self.api_url, "quaytool refuses an --api-url without /api/v"
        self.http = session(
            Authorization=f"Bearer {self.token}", **{"content-type": "application/json"}
        )

    def __enter__(self) -> QuayTool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _url(self, path: str) -> str:
        return f"{self.api_url}/{path}"

    # ---- --info / repositories -------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """``--info``: the discovery document, fetched without the token."""
        resp = raise_for_status(httpx.get(self._url("discovery"), timeout=60.0))
        return dict(resp.json())

    def organization_repositories(self) -> list[dict[str, Any]]:
        """The org walk behind set-visibility, set-permissions and restore-tag.

        Follows ``next_page`` and stops early when a page holds only repositories already
        seen (the tool's guard against Quay's never-ending starred pages).
        """
        seen: dict[str, dict[str, Any]] = {}
        params: dict[str, str] = {"namespace": self.organization}
        while True:
            page = raise_for_status(self.http.get(self._url("repository"), params=params)).json()
            fresh = [r for r in page["repositories"] if r["name"] not in seen]
            for repo in fresh:
                seen[repo["name"]] = repo
            if not page.get("next_page") or not fresh:
                return list(seen.values())
            params = {"namespace": self.organization, "next_page": page["next_page"]}

    def list_repositories(self, public: bool = True) -> dict[str, Any]:
        """``--list-repositories``: one page, ``?public=true&namespace=ORG``."""
        query = (
            f"?public=true&namespace={self.organization}"
            if public
            else (f"?&namespace={self.organization}")
        )
        return dict(raise_for_status(self.http.get(self._url("repository") + query)).json())

    def _targets(self, repositories: Iterable[str], skip: Iterable[str]) -> list[str]:
        names = list(repositories) or [r["name"] for r in self.organization_repositories()]
        return [n for n in names if n not in set(skip)]

    def set_visibility(
        self, visibility: str, repositories: Iterable[str] = (), skip: Iterable[str] = ()
    ) -> list[str]:
        """``--visibility public|private [--repository R]... [--skip S]...``"""
        done = []
        for name in self._targets(repositories, skip):
            raise_for_status(
                self.http.post(
                    self._url(f"repository/{self.organization}/{name}/changevisibility"),
                    json={"visibility": visibility},
                )
            )
            done.append(name)
        return done

    def set_permissions(self, user: str, repositories: Iterable[str] = ()) -> list[str]:
        """``--user U --set-permissions``: write for U on every (or the given) repository."""
        done = []
        for name in self._targets(repositories, ()):
            resp = self.http.put(
                self._url(f"repository/{self.organization}/{name}/permissions/user/{user}"),
                json={"role": "write"},
            )
            if resp.status_code != 201:  # the tool's check, then raise_for_status
                raise_for_status(resp)
            done.append(name)
        return done

    def create_repository(self, name: str) -> None:
        """``--repository R --create-repository`` (public, description "None")."""
        raise_for_status(
            self.http.post(
                self._url("repository"),
                json={
                    "repository": name,
                    "visibility": "public",
                    "namespace": self.organization,
                    "description": "None",
                    "repo_kind": "image",
                },
            )
        )

    def list_images(self, repository: str) -> httpx.Response:
        """``--list-images``: the image API Quay removed in 3.7; the tool prints the answer."""
        return self.http.get(self._url(f"repository/{self.organization}/{repository}/image/"))

    # ---- tags --------------------------------------------------------------------------------
    def tags(self, repository: str) -> list[dict[str, Any]]:
        """The tag helper: ``…/tag`` without the slash (Quay answers 308), first page only."""
        url = self._url(f"repository/{self.organization}/{repository}/tag")
        return list(raise_for_status(self.http.get(url)).json()["tags"])

    def expire(self, repository: str, tag: str, days: int) -> None:
        """``--expire N``: expiration now + N days, or null (clear) for N = 0."""
        expiration = int(time.time()) + days * 86400 if days else None
        raise_for_status(
            self.http.put(
                self._url(f"repository/{self.organization}/{repository}/tag/{tag}"),
                json={"expiration": expiration},
            )
        )

    def restore_tag(self, tag: str) -> list[str]:
        """``--tag T --restore-tag``: in every repository of the org that knows T, restore it
        to the manifest its history entry names."""
        restored = []
        for repo in self.organization_repositories():
            entries = [t for t in self.tags(repo["name"]) if t["name"] == tag]
            if not entries:
                continue
            raise_for_status(
                self.http.post(
                    self._url(f"repository/{self.organization}/{repo['name']}/tag/{tag}/restore"),
                    json={"manifest_digest": entries[0]["manifest_digest"]},
                )
            )
            restored.append(repo["name"])
        return restored

    # ---- organization, robots, teams, prototypes ---------------------------------------------
    def create_organization(self) -> bool:
        """``--create-organization``: False when it exists; the POST must answer 201."""
        if self.http.get(self._url(f"organization/{self.organization}")).status_code == 200:
            return False
        resp = self.http.post(self._url("organization/"), json={"name": self.organization})
        if resp.status_code != 201:
            raise ClientFailed(f"organization not created: {resp.status_code} {resp.text}", resp)
        return True

    def list_robots(self) -> list[dict[str, Any]]:
        url = self._url(f"organization/{self.organization}/robots?token=true&permissions=true")
        return list(raise_for_status(self.http.get(url)).json()["robots"])

    def create_robot(self, name: str) -> dict[str, Any] | None:
        """``--create-robot NAME``: None when ``org+NAME`` exists; the PUT must answer 201."""
        full = f"{self.organization}+{name}"
        if any(r["name"] == full for r in self.list_robots()):
            return None
        resp = self.http.put(
            self._url(f"organization/{self.organization}/robots/{name}"),
            json={"unstructured_metadata": {}, "description": "Robot created by quay tool"},
        )
        if resp.status_code != 201:
            raise ClientFailed(f"robot not created: {resp.status_code} {resp.text}", resp)
        return dict(resp.json())

    def regenerate_token(self, name: str) -> dict[str, Any]:
        """``--regenerate-token``: the tool sends PUT, Quay only routes POST (405)."""
        url = self._url(f"organization/{self.organization}/robots/{name}/regenerate")
        return dict(raise_for_status(self.http.put(url, json={})).json())

    def _team_members(self, team: str) -> list[str] | None:
        resp = self.http.get(self._url(f"organization/{self.organization}/team/{team}/members"))
        if resp.status_code == 404:
            return None  # "can not find team"
        return [m["name"] for m in raise_for_status(resp).json()["members"]]

    def create_team(self, team: str) -> bool:
        """``--create-team T``: a ``creator`` team, unless it exists."""
        if self._team_members(team) is not None:
            return False
        raise_for_status(
            self.http.put(
                self._url(f"organization/{self.organization}/team/{team}"),
                json={"role": "creator", "description": "None"},
            )
        )
        return True

    def add_member(self, team: str, user: str) -> bool:
        """``--team T --user U --add-member``: PUT with no body unless U is listed."""
        if user in (self._team_members(team) or []):
            return False
        raise_for_status(
            self.http.put(self._url(f"organization/{self.organization}/team/{team}/members/{user}"))
        )
        return True

    def list_prototypes(self) -> list[dict[str, Any]]:
        url = self._url(f"organization/{self.organization}/prototypes")
        return list(raise_for_status(self.http.get(url)).json()["prototypes"])

    def create_prototype(self, *, user: str | None = None, team: str | None = None) -> bool:
        """``--create-prototype --user U | --team T``: write, unless U/T is already a delegate."""
        name, kind = (user, "user") if user else (team, "team")
        assert name is not None
        if any(p["delegate"]["name"] == name for p in self.list_prototypes()):
            return False
        raise_for_status(
            self.http.post(
                self._url(f"organization/{self.organization}/prototypes"),
                json={"role": "write", "delegate": {"name": name, "kind": kind}},
            )
        )
        return True
