"""The event catalogue: Quay's payload shapes (seed 002 12.1), event configs and filters;
webhook templates and signatures; what the API shows of a stored URL; the URLs refused at
creation; the Slack message; the e-mails rendered from templates."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from berth.notifications.errors import InvalidEventConfig, InvalidMethodConfig, UnknownEvent
from berth.notifications.events import (
    EVENTS,
    RepoRef,
    build_data,
    get_event,
    image_expiry_data,
    mirror_data,
    quota_data,
    repo_push_data,
    sample_data,
    vulnerability_data,
)
from berth.notifications.mail import Mailer
from berth.notifications.methods import RETIRED, Delivery, masked_url
from berth.notifications.methods.base import check_http_url
from berth.notifications.methods.slack import slack_message
from berth.notifications.methods.webhook import WebhookMethod, apply_template, signature
from berth.notifications.settings import MailSettings
from berth.outbound import AddressPolicy, AllowList

REPO = RepoRef("dgangaia", "test", "quay.io", "https://quay.io")
QUAY_EVENTS = {
    "repo_push", "repo_mirror_sync_started", "repo_mirror_sync_success",
    "repo_mirror_sync_failed", "vulnerability_found", "build_queued", "build_start",
    "build_success", "build_failure", "build_cancelled", "repo_image_expiry",
    "quota_warning", "quota_error",
}  # fmt: skip


def test_the_catalogue_has_quays_events() -> None:
    assert set(EVENTS) == QUAY_EVENTS
    with pytest.raises(UnknownEvent):
        get_event("repo_pull")


def test_repo_push_payload_is_quays() -> None:
    assert repo_push_data(REPO, ["latest"]) == {
        "name": "test",
        "repository": "dgangaia/test",
        "namespace": "dgangaia",
        "docker_url": "quay.io/dgangaia/test",
        "homepage": "https://quay.io/repository/dgangaia/test",
        "updated_tags": ["latest"],
    }


def test_build_payload_is_quays() -> None:
    data = build_data(
        REPO,
        build_id="296ec063",
        docker_tags=["master", "latest"],
        trigger_kind="github",
        trigger_id="38b6e180",
        trigger_metadata={"ref": "refs/heads/master"},
        build_name="b7f7d2b",
    )
    assert data["homepage"] == "https://quay.io/repository/dgangaia/test/build/296ec063"
    assert data["docker_tags"] == ["master", "latest"]
    assert data["repo"] == "test"
    assert data["is_manual"] is False
    assert data["manual_user"] is None
    assert "error_message" not in data
    assert "image_id" not in data
    failed = build_data(REPO, build_id="x", docker_tags=[], error_message="boom")
    assert failed["error_message"] == "boom"


def test_vulnerability_payload_and_level_filter() -> None:
    data = vulnerability_data(
        REPO, ["latest"], vuln_id="CVE-1", description="bad", link="http://x",
        priority="High", has_fix=True,
    )  # fmt: skip
    assert data["vulnerability"] == {
        "id": "CVE-1", "description": "bad", "link": "http://x", "priority": "High",
        "has_fix": True,
    }  # fmt: skip
    ev = get_event("vulnerability_found")
    assert ev.check_config({"level": "2"}) == {"level": "2"}
    assert ev.applies({"level": "2"}, data)  # High (2) is at least as severe as High
    assert ev.applies({"level": "4"}, data)  # ... and as Low
    assert not ev.applies({"level": "1"}, data)  # not Critical
    for bad in ({}, {"level": "x"}, {"level": "9"}):
        with pytest.raises(InvalidEventConfig):
            ev.check_config(bad)
    with pytest.raises(ValueError, match="priority"):
        vulnerability_data(
            REPO, [], vuln_id="", description="", link="", priority="Bad", has_fix=False
        )


def test_expiry_days_config_and_payload() -> None:
    ev = get_event("repo_image_expiry")
    assert ev.check_config({"days": "3"}) == {"days": 3}
    for bad in ({}, {"days": 0}, {"days": "soon"}):
        with pytest.raises(InvalidEventConfig):
            ev.check_config(bad)
    data = image_expiry_data(REPO, ["v1"], 3)
    assert data["tags"] == ["v1"]
    assert data["expiring_in"] == "3 days"


def test_build_ref_regex_filter() -> None:
    ev = get_event("build_success")
    config = ev.check_config({"ref-regex": "refs/heads/ma.*"})
    main = build_data(
        REPO, build_id="1", docker_tags=[], trigger_metadata={"ref": "refs/heads/main"}
    )
    dev = build_data(REPO, build_id="1", docker_tags=[], trigger_metadata={"ref": "refs/heads/dev"})
    assert ev.applies(config, main)
    assert not ev.applies(config, dev)
    assert ev.applies({}, dev)
    with pytest.raises(InvalidEventConfig):
        ev.check_config({"ref-regex": "("})


def test_mirror_and_quota_payloads() -> None:
    assert mirror_data(REPO, message="done", tags=["a"])["message"] == "done"
    q = quota_data(
        "acme", used_bytes=850, quota_bytes=1000, threshold_percent=80, limit_type="Warning"
    )
    assert q == {
        "namespace": "acme", "used_bytes": 850, "quota_bytes": 1000, "percent_used": 85.0,
        "threshold_percent": 80, "limit_type": "Warning",
    }  # fmt: skip
    assert get_event("quota_warning").scope == "namespace"


def test_samples_take_the_real_repository() -> None:
    for name, ev in EVENTS.items():
        data = sample_data(ev, REPO if ev.scope == "repository" else None, "acme")
        if ev.scope == "repository":
            assert data["repository"] == "dgangaia/test", name
            assert ev.summary(data), name
        else:
            assert data["namespace"] == "acme"


def test_webhook_template() -> None:
    data = repo_push_data(REPO, ["a", "b"])
    template = {"text": "pushed ${updated_tags} to ${repository}", "tags": "${updated_tags}",
                "first": "${updated_tags.0}", "missing": "${nope.x}", "n": 1}  # fmt: skip
    assert apply_template(template, data) == {
        "text": 'pushed ["a","b"] to dgangaia/test',
        "tags": ["a", "b"],
        "first": "a",
        "missing": None,
        "n": 1,
    }


def test_webhook_config_checks() -> None:
    method = WebhookMethod()
    assert method.check_config({"url": "https://example.com/x", "template": '{"a": "${name}"}'})
    for bad in (
        {},
        {"url": "ftp://example.com/"},
        {"url": "https://example.com/", "template": "{not json"},
        {"url": "https://example.com/", "template": '"a string"'},
        {"url": "https://example.com/", "secret": "short"},
    ):
        with pytest.raises(InvalidMethodConfig):
            method.check_config(bad)


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret-key", body, hashlib.sha256).hexdigest()
    assert signature("s3cret-key", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://127.0.0.1:8080/",  # loopback, not in SSRF_ALLOWED_HOSTS
        "http://10.1.2.3/",
        "http://blocked.example.com/",
    ],
)
def test_urls_refused_at_creation(url: str) -> None:
    with pytest.raises(InvalidMethodConfig, match="Invalid url"):
        check_http_url(url, blacklist=("blocked.example.com",))


def test_allowed_private_address_is_accepted() -> None:
    policy = AddressPolicy(AllowList.parse(["127.0.0.1"]))
    assert check_http_url("http://127.0.0.1:9/x", policy=policy) == "http://127.0.0.1:9/x"
    with pytest.raises(InvalidMethodConfig):
        check_http_url(
            "http://169.254.169.254/", policy=AddressPolicy(AllowList.parse(["169.254.0.0/16"]))
        )


def test_masked_url_hides_the_path_and_credentials() -> None:
    assert masked_url("https://hooks.slack.com/services/T0/B0/XyZ") == "https://hooks.slack.com/…"
    assert (
        masked_url("https://user:pw@example.com:8443/hook?token=1") == "https://example.com:8443/…"
    )
    assert masked_url("https://example.com") == "https://example.com/"


def test_retired_methods_have_a_message() -> None:
    assert "Flowdock" in RETIRED["flowdock"]
    assert "HipChat" in RETIRED["hipchat"]


def test_slack_message() -> None:
    ev = get_event("build_failure")
    data = build_data(REPO, build_id="1", docker_tags=[], error_message="x")
    msg = slack_message(Delivery("d1", "n1", None, ev, data), "Berth")
    assert msg["text"] == "Build failed for repository dgangaia/test"
    assert msg["username"] == "Berth"
    (attachment,) = msg["attachments"]
    assert attachment["color"] == "danger"
    assert attachment["text"] == f"<{data['homepage']}|{msg['text']}>"


def test_emails_have_text_and_html() -> None:
    mailer = Mailer(
        MailSettings(default_sender="reg@example.com"),
        title="Acme Registry",
        base_url="https://r.example.com",
    )
    msg = mailer.message(
        "bob@example.com",
        "team_invite",
        {
            "org": "acme",
            "team": "<devs>",
            "inviter": "alice",
            "accept_url": "https://r/a?code=1",
            "decline_url": "https://r/a?code=1&decline=true",
        },
    )
    assert msg["Subject"] == "[Acme Registry] Invitation to join team acme/<devs>"
    assert msg["From"] == "reg@example.com"
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "https://r/a?code=1" in text
    assert "alice invited you" in text
    assert "&lt;devs&gt;" in html
    assert "<devs>" not in html  # escaped in HTML
