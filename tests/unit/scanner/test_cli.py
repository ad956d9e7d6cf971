"""``berth scanner import`` and ``status``: what an operator sees."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from berth.cli.main import main

from . import fixtures as F


def test_import_then_status_and_a_refused_bundle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bundle = F.bundle_dir(
        tmp_path / "bundle",
        {
            "debian.json": ("debian-tracker", json.dumps(F.debian_tracker()).encode()),
            "main.json": ("alpine-secdb", json.dumps(F.alpine_secdb()).encode()),
        },
    )
    runner = CliRunner()
    r = runner.invoke(main, ["scanner", "import", "--data-dir", str(data), str(bundle)])
    assert r.exit_code == 0, r.output
    assert "imported 7 advisories" in r.output
    assert "generation 1" in r.output

    (bundle / "main.json").write_text("{}")
    r = runner.invoke(main, ["scanner", "import", "--data-dir", str(data), str(bundle)])
    assert r.exit_code == 1
    assert "import refused: main.json: checksum mismatch" in r.output
    assert "unchanged" in r.output

    r = runner.invoke(main, ["scanner", "status", "--data-dir", str(data), "--json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert st["generation"] == 1
    assert st["advisories"] == 7
    assert [s["name"] for s in st["sources"]] == ["alpine-secdb:v3.19/main", "debian-tracker"]
    r = runner.invoke(main, ["scanner", "status", "--data-dir", str(data)])
    assert "generation 1" in r.output
    assert "debian-tracker" in r.output
