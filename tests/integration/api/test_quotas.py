"""Namespace quotas over /api/v1: Quay's routes, bodies and answers, who may write (3.16+:
a superuser with FEATURE_SUPERUSERS_FULL_ACCESS), bad input refused with nothing written,
the system default, and ``quotas``/``quota_report`` in the organization, user and
repository views. Enforcement at push is in tests/integration/api/test_quota_enforcement.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from berth.audit.services import list_logs
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_framework import NOT_FOUND_BODY, assert_problem
from tests.integration.conftest import Berth

API = "/api/v1"
FEATURES = {
    "FEATURE_QUOTA_MANAGEMENT": True,
    "FEATURE_SUPERUSERS_FULL_ACCESS": True,
    "BERTH_RUN_WORKERS_IN_PROCESS": False,
}


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES) as b:
        yield b


async def headers(b: Berth, user: str) -> dict[str, str]:
    return bearer(await oauth_token(b, user))


async def make_org(b: Berth, name: str = "acme", owner: str = "alice") -> None:
    r = await b.http.post(
        f"{API}/organization/",
        headers=await headers(b, owner),
        json={"name": name, "email": f"{name}@x.test"},
    )
    assert r.status_code == 201, r.text


async def quota_logs(b: Berth, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    async with b.services.db.read() as s:
        rows = await list_logs(s, namespace=namespace)
    return [(r.kind, r.metadata) for r in rows[::-1] if "quota" in r.kind]


async def test_routes_absent_without_the_feature(registry: Berth) -> None:
    await make_org(registry)
    h = await headers(registry, "root")
    for path in ("/organization/acme/quota", "/user/quota", "/superuser/users/alice/quota"):
        r = await registry.http.get(API + path, headers=h)
        assert r.status_code == 404, path
        assert r.json() == NOT_FOUND_BODY
    r = await registry.http.get(f"{API}/organization/acme", headers=h)
    assert "quotas" not in r.json()


async def test_organization_quota_lifecycle_as_quay_answers(berth: Berth) -> None:
    await make_org(berth)
    root = await headers(berth, "root")
    alice = await headers(berth, "alice")
    base = f"{API}/organization/acme/quota"
    assert (await berth.http.get(base, headers=alice)).json() == []

    r = await berth.http.post(base, headers=root, json={"limit_bytes": 1000000})
    assert r.status_code == 201
    assert r.json() == "Created"
    quotas = (await berth.http.get(base, headers=alice)).json()
    qid = quotas[0]["id"]
    assert quotas == [
        {
            "id": qid,
            "limit_bytes": 1000000,
            "limit": "976.6 KiB",
            "default_config": False,
            "limits": [],
            "default_config_exists": False,
        }
    ]
    r = await berth.http.post(
        f"{base}/{qid}/limit", headers=root, json={"type": "Reject", "threshold_percent": 95}
    )
    assert (r.status_code, r.json()) == (201, "Created")
    r = await berth.http.post(
        f"{base}/{qid}/limit", headers=root, json={"type": "Warning", "threshold_percent": 50}
    )
    assert r.status_code == 201
    limits = (await berth.http.get(f"{base}/{qid}/limit", headers=alice)).json()
    assert [(lim["type"], lim["limit_percent"]) for lim in limits] == [
        ("Reject", 95),
        ("Warning", 50),
    ]
    reject_id = limits[0]["id"]
    r = await berth.http.get(f"{base}/{qid}/limit/{reject_id}", headers=alice)
    assert r.json() == {"id": reject_id, "type": "Reject", "limit_percent": 95}

    # Ansible's quay_quota reads the organization view
    org = (await berth.http.get(f"{API}/organization/acme", headers=alice)).json()
    assert org["quotas"] == [{"id": qid, "limit_bytes": 1000000, "limits": limits}]
    assert org["quota_report"] == {"quota_bytes": 0, "configured_quota": 1000000}

    r = await berth.http.put(f"{base}/{qid}", headers=root, json={"limit": "10 MiB"})
    assert r.status_code == 200
    assert r.json()["limit_bytes"] == 10 * 1024 * 1024
    assert r.json()["limit"] == "10.0 MiB"
    r = await berth.http.put(f"{base}/{qid}", headers=root, json={})  # Quay's empty PUT
    assert r.status_code == 200
    r = await berth.http.put(
        f"{base}/{qid}/limit/{reject_id}", headers=root, json={"threshold_percent": 90}
    )
    assert r.status_code == 200
    assert r.json()["id"] == qid  # the quota, not the limit
    assert {"id": reject_id, "type": "Reject", "limit_percent": 90} in r.json()["limits"]
    r = await berth.http.delete(f"{base}/{qid}/limit/{reject_id}", headers=root)
    assert r.status_code == 204
    r = await berth.http.get(f"{base}/{qid}/limit/{reject_id}", headers=alice)
    assert r.status_code == 404
    r = await berth.http.delete(f"{base}/{qid}", headers=root)
    assert r.status_code == 204
    assert (await berth.http.get(base, headers=alice)).json() == []
    assert [kind for kind, _ in await quota_logs(berth, "acme")] == [
        "org_create_quota",
        "org_create_quota_limit",
        "org_create_quota_limit",
        "org_change_quota",
        "org_change_quota_limit",
        "org_delete_quota_limit",
        "org_delete_quota",
    ]


async def test_bad_input_is_refused_with_nothing_written(berth: Berth) -> None:
    await make_org(berth)
    root = await headers(berth, "root")
    base = f"{API}/organization/acme/quota"
    for body, detail in [
        ({"limit": "lots"}, "Invalid quota size limit value: 'lots'"),
        ({"limit": "-5 GiB"}, "Invalid quota size limit value: '-5 GiB'"),
        ({"limit_bytes": 0}, "Invalid quota size limit value: '0'"),
        ({"limit_bytes": -10}, "Invalid quota size limit value: '-10'"),
        ({"limit_bytes": "ten"}, "'ten' is not of type 'integer'"),
        ({}, "{} is not valid under any of the given schemas"),
    ]:
        r = await berth.http.post(base, headers=root, json=body)
        assert_problem(r, 400, "invalid_request", detail)
    r = await berth.http.post(base, headers=root, json={"limit": "1 GiB", "limit_bytes": 5})
    assert r.status_code == 400
    assert (await berth.http.get(base, headers=root)).json() == []

    assert (await berth.http.post(base, headers=root, json={"limit": "1 GiB"})).status_code == 201
    r = await berth.http.post(base, headers=root, json={"limit_bytes": 5000})
    assert_problem(r, 400, "invalid_request", "Organization quota for 'acme' already exists")
    quotas = (await berth.http.get(base, headers=root)).json()
    assert len(quotas) == 1
    assert quotas[0]["limit_bytes"] == 1024**3
    qid = quotas[0]["id"]
    r = await berth.http.put(f"{base}/{qid}", headers=root, json={"limit_bytes": 5, "x": 1})
    assert_problem(
        r, 400, "invalid_request", "Additional properties are not allowed ('x' was unexpected)"
    )
    r = await berth.http.put(f"{base}/{qid}", headers=root, json={"limit_bytes": -1})
    assert r.status_code == 400

    limits = f"{base}/{qid}/limit"
    for body, detail in [
        (
            {"type": "Soft", "threshold_percent": 50},
            "Quota type must be one of [Warning, Reject]",
        ),
        (
            {"type": "Warning", "threshold_percent": 0},
            "Quota limit threshold percent must be between 1 and 100",
        ),
        (
            {"type": "Reject", "threshold_percent": 101},
            "Quota limit threshold percent must be between 1 and 100",
        ),
        ({"type": "Reject"}, "'threshold_percent' is a required property"),
    ]:
        r = await berth.http.post(limits, headers=root, json=body)
        assert_problem(r, 400, "invalid_request", detail)
    assert (await berth.http.get(limits, headers=root)).json() == []
    ok = {"type": "Warning", "threshold_percent": 80}
    assert (await berth.http.post(limits, headers=root, json=ok)).status_code == 201
    r = await berth.http.post(limits, headers=root, json=ok)
    assert_problem(r, 400, "invalid_request", "Quota limit already exists")
    assert len((await berth.http.get(limits, headers=root)).json()) == 1
    assert (await berth.http.get(base, headers=root)).json()[0]["limit_bytes"] == 1024**3


async def test_only_full_access_superusers_write(berth: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await make_org(berth)
    base = f"{API}/organization/acme/quota"
    alice = await headers(berth, "alice")  # the organization's admin
    r = await berth.http.post(base, headers=alice, json={"limit_bytes": 1000})
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await berth.http.post(base, json={"limit_bytes": 1000})  # anonymous, no CSRF
    assert r.status_code in (401, 403)
    bob = await headers(berth, "bob")  # not a member: reads refused too
    r = await berth.http.get(base, headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await berth.http.get(base)
    assert r.status_code == 401
    r = await berth.http.post(f"{API}/superuser/users/alice/quota", headers=alice, json={})
    assert r.status_code == 403
    assert (await berth.http.get(base, headers=alice)).json() == []


async def test_superusers_without_full_access_cannot_write(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(**{**FEATURES, "FEATURE_SUPERUSERS_FULL_ACCESS": False}) as b:
        await make_org(b)
        root = await headers(b, "root")
        r = await b.http.post(
            f"{API}/organization/acme/quota", headers=root, json={"limit_bytes": 1000}
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        alice = await headers(b, "alice")
        assert (await b.http.get(f"{API}/organization/acme/quota", headers=alice)).json() == []


async def test_system_default_quota(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES, DEFAULT_SYSTEM_REJECT_QUOTA_BYTES=2048) as b:
        await make_org(b)
        alice = await headers(b, "alice")
        quotas = (await b.http.get(f"{API}/organization/acme/quota", headers=alice)).json()
        assert quotas == [
            {
                "id": None,
                "limit_bytes": 2048,
                "limit": "2.0 KiB",
                "default_config": True,
                "limits": [{"id": None, "type": "Reject", "limit_percent": 100}],
                "default_config_exists": True,
            }
        ]
        org = (await b.http.get(f"{API}/organization/acme", headers=alice)).json()
        assert org["quotas"] == []
        assert org["quota_report"] == {"quota_bytes": 0, "configured_quota": 2048}


async def test_user_quotas_through_the_superuser_routes(berth: Berth) -> None:
    root = await headers(berth, "root")
    alice = await headers(berth, "alice")
    base = f"{API}/superuser/users/alice/quota"
    r = await berth.http.post(base, headers=root, json={"limit": "5 MB"})
    assert (r.status_code, r.json()) == (201, "Created")
    quotas = (await berth.http.get(base, headers=root)).json()
    assert quotas[0]["limit_bytes"] == 5_000_000
    qid = quotas[0]["id"]
    mine = (await berth.http.get(f"{API}/user/quota", headers=alice)).json()
    assert mine == quotas
    assert (await berth.http.get(f"{API}/user/quota/{qid}", headers=alice)).json() == quotas[0]
    me = (await berth.http.get(f"{API}/user/", headers=alice)).json()
    assert me["quotas"] == [{"id": qid, "limit_bytes": 5_000_000, "limits": []}]
    assert me["quota_report"] == {"quota_bytes": 0, "configured_quota": 5_000_000}
    # the organization route does not reach a user's namespace
    r = await berth.http.get(f"{API}/organization/alice/quota", headers=alice)
    assert r.status_code == 404
    r = await berth.http.get(f"{API}/superuser/organization/alice/quota", headers=root)
    assert r.status_code == 404
    listed = (await berth.http.get(f"{API}/superuser/users/", headers=root)).json()["users"]
    by_name = {u["username"]: u for u in listed}
    assert by_name["alice"]["quotas"] == [{"id": qid, "limit_bytes": 5_000_000, "limits": []}]
    assert by_name["bob"]["quotas"] == []
    r = await berth.http.put(f"{base}/{qid}", headers=root, json={"limit_bytes": 7})
    assert r.json()["limit_bytes"] == 7
    assert (await berth.http.delete(f"{base}/{qid}", headers=root)).status_code == 204
    assert (await berth.http.get(f"{API}/user/quota", headers=alice)).json() == []


async def test_repository_views_report_usage(berth: Berth) -> None:
    await make_org(berth)
    root = await headers(berth, "root")
    alice = await headers(berth, "alice")
    r = await berth.http.post(
        f"{API}/organization/acme/quota", headers=root, json={"limit_bytes": 10**7}
    )
    assert r.status_code == 201
    await berth.client("alice").push_image("acme/app", "v1")
    r = await berth.http.get(f"{API}/repository", params={"namespace": "acme"}, headers=alice)
    item = r.json()["repositories"][0]
    used = item["quota_report"]["quota_bytes"]
    assert used > 1024
    assert item["quota_report"]["configured_quota"] == 10**7
    repo = (await berth.http.get(f"{API}/repository/acme/app", headers=alice)).json()
    assert repo["quota_report"] == {"quota_bytes": used, "configured_quota": 10**7}
    org = (await berth.http.get(f"{API}/organization/acme", headers=alice)).json()
    assert org["quota_report"]["quota_bytes"] == used
