"""Pure pieces of /api/v1: query booleans, schema messages, error shapes, sessions, scopes."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import orjson
import pytest

from berth.http.api.v1.errors import (
    ERROR_TYPES,
    AbortError,
    ApiError,
    DetailError,
    MessageError,
    error_description,
    unauthorized,
)
from berth.http.api.v1.framework import truthy_bool
from berth.http.api.v1.schema import validation_error
from berth.http.api.v1.session import SessionCodec, SessionData
from berth.oauth.services import expand_scopes, parse_scopes, random_code


@pytest.mark.parametrize("value", ["false", "False", "FALSE", "0", "", "null"])
def test_truthy_bool_false_values(value: str) -> None:
    assert truthy_bool(value) is False


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "no", "off", "anything"])
def test_truthy_bool_anything_else_is_true(value: str) -> None:
    assert truthy_bool(value) is True


def test_truthy_bool_missing() -> None:
    assert truthy_bool(None) is False


SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "n": {"type": "integer", "minimum": 0},
        "role": {"type": "string", "enum": ["read", "write"]},
        "maybe": {"type": ["string", "null"]},
    },
}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'name' is a required property"),
        ({"name": 1}, "1 is not of type 'string'"),
        ({"name": "x", "n": True}, "True is not of type 'integer'"),
        ({"name": "x", "n": -1}, "-1 is less than the minimum of 0"),
        ({"name": "x", "role": "own"}, '\'own\' is not one of ["read","write"]'),
        ({"name": "x", "maybe": 3}, "3 is not of type 'string', 'null'"),
        ([], "[] is not of type 'object'"),
    ],
)
def test_schema_messages(body: object, message: str) -> None:
    assert validation_error(body, SCHEMA) == message


def test_schema_allows_extra_properties_unless_forbidden() -> None:
    assert validation_error({"name": "x", "extra": 1}, SCHEMA) is None
    strict = {**SCHEMA, "additionalProperties": False}
    assert validation_error({"name": "x", "extra": 1}, strict) == (
        "Additional properties are not allowed ('extra' was unexpected)"
    )


def test_the_four_error_shapes() -> None:
    base = "http://h"
    a = ApiError("invalid_token", "Requires authentication", payload={"session_required": False})
    assert a.body(base) == {
        "session_required": False,
        "detail": "Requires authentication",
        "error_message": "Requires authentication",
        "error_type": "invalid_token",
        "title": "invalid_token",
        "type": "http://h/api/v1/error/invalid_token",
        "status": 401,
    }
    assert MessageError(400, "m", is_readonly=True).body(base) == {
        "message": "m",
        "is_readonly": True,
    }
    assert DetailError(409, "d").body(base) == {"detail": "d"}
    assert AbortError(403, "e").body(base) == {"error": "e"}
    resp = AbortError(403, "e").response(base)
    assert resp.status_code == 403
    assert orjson.loads(resp.body) == {"error": "e"}


def test_unauthorized_depends_on_the_caller() -> None:
    assert unauthorized(False).status == 401
    assert unauthorized(False).error_type == "invalid_token"
    assert unauthorized(True).status == 403
    assert unauthorized(True).error_type == "insufficient_scope"


def test_error_catalogue_statuses() -> None:
    assert {k: v[0] for k, v in ERROR_TYPES.items()} == {
        "invalid_request": 400,
        "invalid_response": 400,
        "invalid_token": 401,
        "expired_token": 401,
        "fresh_login_required": 401,
        "exceeds_license": 402,
        "insufficient_scope": 403,
        "not_found": 404,
        "tag_immutable": 409,
        "token_rotation_failed": 500,
        "external_service_timeout": 520,
        "downstream_issue": 520,
    }
    assert error_description("not_found")["title"] == "not_found"  # type: ignore[index]
    assert error_description("nope") is None


def test_session_cookie_round_trip_and_tamper() -> None:
    codec = SessionCodec("secret", max_age_s=60)
    data = SessionData(csrf="c").with_login(7, "gen")
    loaded = codec.load(codec.dump(data))
    assert loaded == data
    assert loaded.csrf != "c"  # signing in rotates the CSRF token
    cookie = codec.dump(data)
    assert codec.load(cookie[:-2] + "AA") is None
    assert SessionCodec("other", max_age_s=60).load(cookie) is None
    assert codec.load("") is None
    assert codec.load("garbage") is None


def test_session_cookie_expires() -> None:
    codec = SessionCodec("secret", max_age_s=60)
    data = replace(SessionData(csrf="c"), login_at=time.time())
    fresh = codec.dump(data)
    assert codec.load(fresh) == data
    doc = b'{"c":"c","u":null,"g":null,"t":null}'
    old = codec._fernet.encrypt_at_time(doc, int(time.time()) - 61).decode()
    assert codec.load(old) is None


def test_scope_parsing() -> None:
    assert parse_scopes("repo:read user:read") == {"repo:read", "user:read"}
    assert parse_scopes("repo:read,user:read") == {"repo:read", "user:read"}
    assert parse_scopes("repo:read, org:admin") == {"repo:read", "org:admin"}
    assert parse_scopes("repo:read bogus") == frozenset()
    assert parse_scopes("") == frozenset()
    assert parse_scopes(None) == frozenset()


def test_scope_implications() -> None:
    assert expand_scopes(frozenset({"repo:admin"})) == {"repo:admin", "repo:write", "repo:read"}
    assert expand_scopes(frozenset({"org:admin"})) == {"org:admin"}  # no repo:admin
    assert "user:read" in expand_scopes(frozenset({"user:admin"}))


def test_random_codes() -> None:
    code = random_code(40)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", code)
    assert random_code(40) != code
