"""The Builds tab's upload form: ``multipart/form-data`` read back byte for byte (binary
archives with CR, LF and boundary-like lines in them), as a browser's encoder writes it."""

from __future__ import annotations

import os

import httpx

from berth.http.web.pages.builds import parse_multipart


def test_binary_upload_and_fields_round_trip() -> None:
    for _ in range(10):
        data = os.urandom(4000) + b"\r\n--boundary\r\n\r\r\n\n" + os.urandom(2000) + b"\r\n"
        request = httpx.Request(
            "POST",
            "http://berth.test/",
            files={"file": ("context.tar.gz", data, "application/gzip")},
            data={"docker_tags": "v1 latest", "context": "/"},
        )
        fields = parse_multipart(request.headers["content-type"], request.read())
        assert fields["file"] == ("context.tar.gz", data)
        assert fields["docker_tags"] == (None, b"v1 latest")
        assert fields["context"] == (None, b"/")


def test_not_multipart_gives_no_fields() -> None:
    assert parse_multipart("text/plain", b"hello") == {}
