"""``berth bench``'s usage-logs check on a small embedded database: it fills the table,
pages and aggregates, and reports every figure (the timings themselves are not judged)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.logs import run_logs
from devservers import create_database


@pytest.mark.slow
def test_the_logs_check_measures_every_query(tmp_path: Path) -> None:
    confs = []
    for name in ("small", "large"):
        conf = tmp_path / f"{name}.yaml"
        data = {"SERVER_HOSTNAME": "localhost", "BERTH_DATA_DIR": str(tmp_path / name)}
        conf.write_text(yaml.safe_dump(data))
        confs.append(conf)
    out = run_logs((confs[0], confs[1]), (500, 3_000), quick=True)
    assert out["rows"] == [500, 3_000]
    assert {p["query"].split(",")[0] for p in out["pages"]} == {
        "namespace", "repository", "namespace+performer", "everything (superuser)",
    }  # fmt: skip
    assert all(p["small_ms"] > 0 and p["large_ms"] > 0 for p in out["pages"])
    assert out["aggregate"]["rows"] == 300  # one namespace of ten


@pytest.mark.slow
@pytest.mark.postgres
def test_the_logs_check_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    confs = []
    for name in ("small", "large"):
        conf = tmp_path / f"{name}.yaml"
        data = {
            "SERVER_HOSTNAME": "localhost",
            "BERTH_DATA_DIR": str(tmp_path / name),
            "DB_URI": create_database(postgres_url, f"logs_check_{name}"),
            "SECRET_KEY": "k",
            "DATABASE_SECRET_KEY": "d",
        }
        conf.write_text(yaml.safe_dump(data))
        confs.append(conf)
    out = run_logs((confs[0], confs[1]), (500, 3_000), quick=True)
    assert out["aggregate"]["rows"] == 300
    assert len(out["pages"]) == 8
