"""SBOMs of scanned manifests (beyond Quay): ``GET .../manifest/{digest}/sbom?format=`` and
``berth scanner sbom``, validated by the SPDX tools' parser and validator and by CycloneDX's
JSON schema; the packages (with purls and layers) are the security route's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from berth.cli.main import main
from tests.conftest import write_config
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_security import DEBIAN_BASE, DEBIAN_TOP, push, security
from tests.integration.conftest import Berth, digest_of
from tests.unit.scanner import fixtures as F
from tests.unit.scanner.test_java_rpm_bdb import LOG4J

APP = F.layer(
    {
        "srv/node_modules/@babel/core/package.json": (
            b'{"name": "@babel/core", "version": "7.23.0"}'
        ),
        "srv/lib/log4j-core-2.14.1.jar": LOG4J,
    }
)


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_SECURITY_SCANNER=True) as b:
        yield b


async def test_spdx_and_cyclonedx(
    berth: Berth, registry_config: dict[str, Any], tmp_path: Path
) -> None:
    digest = await push(berth, "app", [DEBIAN_BASE, DEBIAN_TOP, APP])
    headers = bearer(await oauth_token(berth, "alice"))
    url = f"/api/v1/repository/alice/app/manifest/{digest}/sbom"
    await security(berth, digest, "scanned")

    r = await berth.http.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/spdx+json"
    (tmp_path / "image.spdx.json").write_bytes(r.content)
    document = parse_file(str(tmp_path / "image.spdx.json"))
    assert validate_full_spdx_document(document) == []
    spdx = r.json()
    purls = {p["name"]: p["externalRefs"][0]["referenceLocator"] for p in spdx["packages"]}
    assert purls["libssl3"] == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )
    assert purls["requests"] == "pkg:pypi/requests@2.31.0"
    assert purls["@babel/core"] == "pkg:npm/%40babel/core@7.23.0"
    assert purls["org.apache.logging.log4j:log4j-core"] == (
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    )
    assert "curl" not in purls  # removed by the top layer
    image = spdx["packages"][0]
    assert image["versionInfo"] == digest
    contains = [x for x in spdx["relationships"] if x["relationshipType"] == "CONTAINS"]
    assert len(contains) == len(spdx["packages"]) - 1

    r = await berth.http.get(url + "?format=cyclonedx", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.cyclonedx+json"
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(r.text) is None
    bom = r.json()
    libs = {c["name"]: c for c in bom["components"] if c["type"] == "library"}
    assert set(libs) == set(purls) - {image["name"]}
    layer = {p["name"]: p["value"] for p in libs["@babel/core"]["properties"]}["berth:layer"]
    assert layer == digest_of(APP)
    (os_component,) = [c for c in bom["components"] if c["type"] == "operating-system"]
    assert (os_component["name"], os_component["version"]) == ("debian", "12")

    # Bad format, unknown manifest, no access.
    r = await berth.http.get(url + "?format=xml", headers=headers)
    assert r.status_code == 400
    r = await berth.http.get(url.replace(digest, "sha256:" + "0" * 64), headers=headers)
    assert r.status_code == 404
    r = await berth.http.get(url, headers=bearer(await oauth_token(berth, "bob")))
    assert r.status_code == 403

    # The CLI writes the same document.
    config = write_config(tmp_path, {**registry_config, "FEATURE_SECURITY_SCANNER": True})
    out = tmp_path / "cli.cdx.json"
    result = await anyio.to_thread.run_sync(
        lambda: CliRunner().invoke(
            main,
            ["scanner", "sbom", "--config", str(config), f"alice/app@{digest}",
             "--format", "cyclonedx", "-o", str(out)],
        )
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cli_bom = json.loads(out.read_text())
    assert {c["name"] for c in cli_bom["components"]} == {c["name"] for c in bom["components"]}


async def test_states_other_than_scanned(berth: Berth) -> None:
    headers = bearer(await oauth_token(berth, "alice"))
    chart = await push(
        berth,
        "chart",
        [b"not a tar"],
        layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        config_type="application/vnd.cncf.helm.config.v1+json",
    )
    await security(berth, chart, "unsupported")
    r = await berth.http.get(f"/api/v1/repository/alice/app/manifest/{chart}/sbom", headers=headers)
    assert r.status_code == 409
    assert r.json()["status"] == "unsupported"


async def test_sbom_attached_as_a_referrer(configured) -> None:  # type: ignore[no-untyped-def]
    """With the namespace listed, a newly indexed image gets its SPDX SBOM as an OCI
    referrer: the registry's referrers API lists it and its layer is the SBOM."""
    async with configured(
        FEATURE_SECURITY_SCANNER=True, BERTH_SCANNER_SBOM_REFERRER_NAMESPACES=["alice"]
    ) as b:
        digest = await push(b, "app", [DEBIAN_BASE, DEBIAN_TOP])
        await security(b, digest, "scanned")
        alice = b.client("alice")
        r = await alice.get(f"/v2/alice/app/referrers/{digest}")
        assert r.status_code == 200, r.text
        (ref,) = r.json()["manifests"]
        assert ref["artifactType"] == "application/spdx+json"
        r = await alice.get(
            f"/v2/alice/app/manifests/{ref['digest']}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        manifest = r.json()
        assert manifest["subject"]["digest"] == digest
        (layer,) = manifest["layers"]
        r = await alice.get(f"/v2/alice/app/blobs/{layer['digest']}")
        doc = r.json()
        assert doc["spdxVersion"] == "SPDX-2.3"
        assert {p["name"] for p in doc["packages"][1:]} == {"bash", "libssl3", "requests"}

        # A namespace not listed gets none.
        pushed = await b.client("bob").push_image("bob/app", "v1", layers=[DEBIAN_BASE])
        bob_digest = digest_of(pushed.manifest)
        headers = bearer(await oauth_token(b, "bob"))
        url = f"/api/v1/repository/bob/app/manifest/{bob_digest}/security"
        for _ in range(600):  # a bound on the job runner, not a timing assertion
            if (await b.http.get(url, headers=headers)).json()["status"] != "queued":
                break
            await anyio.sleep(0.1)
        r = await b.client("bob").get(f"/v2/bob/app/referrers/{bob_digest}")
        assert r.json()["manifests"] == []
