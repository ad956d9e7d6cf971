"""berth bench's regbench child: an interrupted bench stops it instead of waiting for it."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import runner


def test_an_interrupted_bench_stops_regbench(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "regbench.py"
    pid_file = tmp_path / "pid"
    fake.write_text(
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('[a] blob_put_mono rep 0: 1 MB/s', flush=True)\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setattr(runner, "REGBENCH", fake)

    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt  # as a SIGINT to berth bench alone arrives

    monkeypatch.setattr(runner, "log", lambda msg: None)
    monkeypatch.setattr(runner, "print", interrupted, raising=False)  # on regbench's 1st line
    dist = SimpleNamespace(url="http://127.0.0.1:1", pid=1)
    berth = SimpleNamespace(url="http://127.0.0.1:2", pid=2, user="bench", password="pw")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner._run_regbench(dist, berth, runner.BenchOptions(), tmp_path / "out.json")  # type: ignore[arg-type]
    assert time.monotonic() - started < 30, "regbench was waited for, not stopped"
    assert not Path(f"/proc/{pid_file.read_text()}").exists(), "regbench stopped and reaped"
