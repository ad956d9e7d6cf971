"""FEATURE_TEAM_SYNCING with an LDAP group (a real slapd): the syncing routes, members
following the group (the ``sync_teams`` job and each sign-in), and synced teams refusing
manual membership changes with Quay's answer."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from berth.identity.tasks import SyncTeams, sync_teams
from tests.integration.api.test_ldap import _csrf, signin
from tests.integration.conftest import Berth
from tests.support.ldap import GROUPS, Slapd, password_of, user_dn

pytestmark = pytest.mark.slow

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]


async def _session(berth: Berth, name: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    r = await signin(berth, name, password_of(name))
    assert r.status_code == 200, r.text
    http: httpx.AsyncClient = r.extensions["client"]
    return http, {"X-CSRF-Token": await _csrf(http)}


async def _members(http: httpx.AsyncClient, team: str = "devs") -> dict[str, Any]:
    r = await http.get(f"/api/v1/organization/lab/team/{team}/members")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _names(view: dict[str, Any]) -> set[str]:
    return {m["name"] for m in view["members"]}


async def _run_job(berth: Berth) -> None:
    """What the scheduled ``sync_teams`` job runs."""
    assert berth.services.teamsync is not None
    await sync_teams(SyncTeams(), berth.services.teamsync)


async def test_team_follows_its_directory_group(configured: Configured, slapd: Slapd) -> None:
    group = f"team-{secrets.token_hex(4)}"
    slapd.add(
        f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n"
        f"member: {user_dn('lara')}\nmember: {user_dn('mike')}\n"
    )
    config = slapd.config(FEATURE_TEAM_SYNCING=True, LDAP_CACHE_TTL=0)
    async with configured(**config) as berth:
        olga, csrf = await _session(berth, "olga")  # a superuser by LDAP_SUPERUSER_FILTER
        r = await olga.post(
            "/api/v1/organization/", json={"name": "lab", "email": "lab@example.org"}, headers=csrf
        )
        assert r.status_code == 201, r.text
        r = await olga.put(
            "/api/v1/organization/lab/team/devs", json={"role": "member"}, headers=csrf
        )
        assert r.status_code == 200, r.text

        # a group that does not exist is refused
        r = await olga.post(
            "/api/v1/organization/lab/team/devs/syncing",
            json={"group_dn": "cn=nope,ou=groups"},
            headers=csrf,
        )
        assert r.status_code == 400, r.text
        assert r.json()["error_message"].startswith("Could not sync to group:")
        r = await olga.post(
            "/api/v1/organization/lab/team/devs/syncing",
            json={"group_dn": f"cn={group},ou=groups"},
            headers=csrf,
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "devs"

        await _run_job(berth)
        view = await _members(olga)
        assert _names(view) == {"lara", "mike"}  # mike had never signed in: created
        assert view["synced"]["service"] == "ldap"
        assert view["synced"]["config"] == {"group_dn": f"cn={group},ou=groups"}
        assert view["synced"]["last_updated"]
        assert view["can_sync"] == {"service": "ldap", "base_dn": "dc=example,dc=org"}
        org = (await olga.get("/api/v1/organization/lab")).json()
        assert org["teams"]["devs"]["is_synced"] is True

        # manual changes are refused with Quay's answer; robots may still join
        for method, path in (
            ("PUT", "/members/pete"),
            ("DELETE", "/members/mike"),
            ("PUT", "/invite/someone@example.org"),
        ):
            r = await olga.request(
                method, f"/api/v1/organization/lab/team/devs{path}", headers=csrf
            )
            assert r.status_code == 400, (method, path, r.text)
            assert r.json()["error_message"] == "Cannot call this method on an auth-synced team"
        r = await olga.put("/api/v1/organization/lab/robots/ci", json={}, headers=csrf)
        assert r.status_code == 201, r.text
        r = await olga.put("/api/v1/organization/lab/team/devs/members/lab+ci", headers=csrf)
        assert r.status_code == 200, r.text

        # the directory changes: mike leaves, pete joins
        slapd.modify(
            f"dn: cn={group},{GROUPS}\nchangetype: modify\n"
            f"delete: member\nmember: {user_dn('mike')}\n-\n"
            f"add: member\nmember: {user_dn('pete')}\n"
        )
        await _run_job(berth)
        assert _names(await _members(olga)) == {"lara", "pete", "lab+ci"}

        # at sign-in: lara leaves the group and signs in; olga joins it and signs in
        slapd.modify(
            f"dn: cn={group},{GROUPS}\nchangetype: modify\n"
            f"delete: member\nmember: {user_dn('lara')}\n-\n"
            f"add: member\nmember: {user_dn('olga')}\n"
        )
        await _session(berth, "lara")
        olga, csrf = await _session(berth, "olga")
        assert _names(await _members(olga)) == {"olga", "pete", "lab+ci"}

        # syncing off: the members stay and can be changed again
        r = await olga.delete("/api/v1/organization/lab/team/devs/syncing", headers=csrf)
        assert r.status_code == 200, r.text
        view = await _members(olga)
        assert "synced" not in view
        r = await olga.delete("/api/v1/organization/lab/team/devs/members/pete", headers=csrf)
        assert r.status_code == 204, r.text


async def test_only_superusers_set_up_syncing(configured: Configured, slapd: Slapd) -> None:
    async with configured(**slapd.config(FEATURE_TEAM_SYNCING=True)) as berth:
        lara, csrf = await _session(berth, "lara")
        r = await lara.post(
            "/api/v1/organization/", json={"name": "lab", "email": "lab@example.org"}, headers=csrf
        )
        assert r.status_code == 201, r.text
        r = await lara.put(
            "/api/v1/organization/lab/team/devs", json={"role": "member"}, headers=csrf
        )
        assert r.status_code == 200, r.text
        r = await lara.post(
            "/api/v1/organization/lab/team/devs/syncing",
            json={"group_dn": "cn=devs,ou=groups"},
            headers=csrf,
        )
        assert r.status_code == 403, r.text
        assert "can_sync" not in await _members(lara)


async def test_syncing_routes_need_the_feature(configured: Configured, slapd: Slapd) -> None:
    async with configured(**slapd.config()) as berth:
        olga, csrf = await _session(berth, "olga")
        r = await olga.post(
            "/api/v1/organization/lab/team/devs/syncing", json={"group_dn": "x"}, headers=csrf
        )
        assert r.status_code == 404
