"""Who may fire a trigger: Quay's $token basic auth, GitHub's HMAC signature, GitLab's token."""

from __future__ import annotations

import base64
import hmac

import pytest

from berth.buildtriggers.webhooks import WebhookRefused, authenticate

SECRET = "s3cret-token"
BODY = b'{"ref": "refs/heads/main"}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def signed(body: bytes, secret: str = SECRET, algorithm: str = "sha256") -> str:
    return f"{algorithm}=" + hmac.new(secret.encode(), body, algorithm).hexdigest()


def test_each_proof_is_accepted() -> None:
    assert authenticate({"authorization": basic("$token", SECRET)}, BODY, SECRET) == "basic"
    assert authenticate({"x-hub-signature-256": signed(BODY)}, BODY, SECRET) == "signature"
    sha1 = {"x-hub-signature": signed(BODY, algorithm="sha1")}
    assert authenticate(sha1, BODY, SECRET) == "signature"
    assert authenticate({"x-gitlab-token": SECRET}, BODY, SECRET) == "token"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": basic("$token", "wrong")},
        {"authorization": basic("alice", SECRET)},
        {"authorization": "Bearer " + SECRET},
        {"x-hub-signature-256": signed(BODY, "wrong")},
        {"x-hub-signature-256": signed(BODY + b" ")},
        {"x-hub-signature-256": "md5=abc"},
        {"x-gitlab-token": "wrong"},
        # a right proof does not excuse a wrong one
        {"authorization": basic("$token", SECRET), "x-hub-signature-256": signed(BODY, "x")},
    ],
)
def test_wrong_or_missing_proofs_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRefused):
        authenticate(headers, BODY, SECRET)


def test_signature_is_over_the_exact_body() -> None:
    assert authenticate({"x-hub-signature-256": signed(b"")}, b"", SECRET) == "signature"
