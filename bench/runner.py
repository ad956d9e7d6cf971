"""``berth bench``: Berth against CNCF distribution, side by side, on this machine.

Steps (every server on loopback, in a temporary directory, stopped at the end):

1. the first start of the embedded default on an empty data dir (embedded only);
2. distribution (Debian ``docker-registry``) and Berth (``berth serve`` with its own
   config and a superuser); Berth is started three times, each start timed until
   ``GET /v2/`` with Basic credentials answers 200; the third one is measured;
3. regbench (``bench/regbench.py``, the team's yardstick) with distribution as A
   and Berth as B (token flow), both PIDs for CPU and RSS of their process trees;
4. the cost growth check against a fresh Berth (see :mod:`bench.growth`);
5. push throughput with a webhook notification against without (see :mod:`bench.notify`),
   then manifest PUTs with a quota against without one, and manifest GETs with pull
   statistics against without (see :mod:`bench.quota`);
6. the usage-logs check, in-process on a fresh database (see :mod:`bench.logs`);
7. ``<out>/<timestamp>.json``, the ratio table, and (full runs) the generated section of
   ``docs/performance.md`` and ``docs/img/performance.svg``.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.growth import GrowthError, catalog_fallback, run_growth
from bench.logs import FULL_ROWS, QUICK_ROWS, run_logs
from bench.mirror import run_mirror_bench
from bench.notify import run_notify
from bench.proxy import run_proxy_bench
from bench.quota import compare_pull_with_stats, compare_push_with_quota
from bench.scan_backlog import combine, run_scan_backlog
from bench.servers import BenchSetupError, Berth, Distribution, first_run_start
from devservers import Postgres, Redis, Seaweed, free_port

REGBENCH = Path(__file__).with_name("regbench.py")
BENCH_USER = "bench"
FULL_GROWTH = {"tags": (1_000, 100_000), "repos": (1_000, 10_000), "robots": (100, 1_000)}
QUICK_GROWTH = {"tags": (100, 2_000), "repos": (100, 1_000), "robots": (20, 200)}
RESTARTS = 3


@dataclass
class BenchOptions:
    deployment: str = "embedded"
    quick: bool = False
    out: Path = Path("bench-results")
    docs: bool | None = None  # None: full runs update the docs, quick runs do not
    docs_dir: Path | None = None  # None: <checkout>/docs when running from a checkout
    from_json: Path | None = None
    growth_tags: tuple[int, int] | None = None
    growth_repos: tuple[int, int] | None = None
    skip_growth: bool = False
    skip_notify: bool = False
    skip_scan_backlog: bool = False
    logs_rows: tuple[int, int] | None = None
    skip_logs: bool = False
    skip_quota: bool = False
    workers: int | None = None
    regbench_args: tuple[str, ...] = ()
    keep: bool = False
    check: bool = False
    proxy: bool = False  # also the proxy-cache section (bench/proxy.py)
    mirror: bool = False  # also the mirroring section (bench/mirror.py)


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), "[bench]", msg, flush=True)


def checkout_root() -> Path | None:
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def _git_commit(root: Path | None) -> str | None:
    if root is None or not (root / ".git").exists() or not shutil.which("git"):
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "berth"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        return None
    return head + ("+dirty" if dirty else "")


def _preflight() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import aiohttp"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        raise BenchSetupError(
            "regbench needs aiohttp in this Python: pip install -e '.[bench]' "
            f"({probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else ''})"
        )
    _compile_bytecode()


def _compile_bytecode() -> None:
    """Compile Berth's modules to bytecode, as installing a package does (pip compiles a
    wheel's modules; an editable checkout writes them on first import unless
    PYTHONDONTWRITEBYTECODE is set). Without it every start timed here would compile ~200
    modules from source, ~0.3 s that no installed server pays."""
    import berth

    compileall.compile_dir(Path(berth.__file__).parent, quiet=1)


SEAWEED_ACCESS_KEY = "berthbenchaccess"
SEAWEED_SECRET_KEY = "berthbenchsecret0123456789"  # noqa: S105 - throwaway loopback server


class Deployment:
    """Where a Berth instance keeps its metadata and blobs (and, distributed, its shared
    cache generations: Redis, as a production deployment with replicas runs)."""

    def __init__(self, kind: str, workdir: Path, stack: contextlib.ExitStack) -> None:
        self.kind = kind
        self.postgres: Postgres | None = None
        self.seaweed: Seaweed | None = None
        self.redis: Redis | None = None
        if kind == "distributed":
            self.postgres = Postgres()
            stack.callback(self.postgres.stop)
            log("starting PostgreSQL")
            self.postgres.start()
            self.redis = Redis(workdir / "redis")
            stack.callback(self.redis.stop)
            log("starting Redis")
            self.redis.start()
            self.seaweed = Seaweed(
                workdir / "seaweed",
                access_key=SEAWEED_ACCESS_KEY,
                secret_key=SEAWEED_SECRET_KEY,
                # Full runs write a few GB per registry (256 MB blobs, chunked staging);
                # 64 volumes ran out mid-run (503s, then distribution crashed).
                volume_size_mb=256,
                max_volumes=400,
            )
            stack.callback(self.seaweed.stop)
            log("starting SeaweedFS S3")
            self.seaweed.start()

    def distribution_s3(self) -> dict[str, str] | None:
        """Distributed: distribution stores its blobs on the same SeaweedFS (own bucket)."""
        if self.seaweed is None:
            return None
        self.seaweed.create_bucket("distribution")
        return {
            "bucket": "distribution",
            "endpoint": self.seaweed.endpoint,
            "access_key": SEAWEED_ACCESS_KEY,
            "secret_key": SEAWEED_SECRET_KEY,
        }

    def berth_config(self, name: str) -> dict[str, object]:
        """Config keys for one Berth instance called ``name`` (its own DB and bucket)."""
        if self.kind == "embedded":
            return {}
        assert self.postgres is not None
        assert self.seaweed is not None
        assert self.redis is not None
        db = self.postgres.create_database(name)
        bucket = name.replace("_", "-")
        self.seaweed.create_bucket(bucket)
        return {
            "DB_URI": db,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_SECRET_KEY": secrets.token_urlsafe(32),
            "BERTH_REDIS": self.redis.options,
            "DISTRIBUTED_STORAGE_CONFIG": {
                "default": [
                    "S3Storage",
                    {
                        "s3_bucket": bucket,
                        "storage_path": "/registry",
                        "endpoint_url": self.seaweed.endpoint,
                        "s3_access_key": SEAWEED_ACCESS_KEY,
                        "s3_secret_key": SEAWEED_SECRET_KEY,
                        "s3_region": "us-east-1",
                    },
                ]
            },
            "DISTRIBUTED_STORAGE_PREFERENCE": ["default"],
            # Berth serves the bytes itself, as distribution does here (its redirects off):
            # the two data paths are compared. By default both would answer blob GETs with
            # redirects to the object store, and distribution a blob HEAD with one too.
            "FEATURE_PROXY_STORAGE": True,
        }


def _run_regbench(
    dist: Distribution, berth: Berth, opts: BenchOptions, json_path: Path
) -> dict[str, Any]:
    cmd = [
        sys.executable, str(REGBENCH),
        "--a", dist.url, "--a-pid", str(dist.pid),
        "--b", berth.url, "--b-pid", str(berth.pid),
        "--b-user", berth.user, "--b-password", berth.password,
        "--json", str(json_path),
    ]  # fmt: skip
    if opts.quick:
        cmd.append("--quick")
    cmd += list(opts.regbench_args)
    previous = ["", *cmd[:-1]]
    shown = ["***" if p == "--b-password" else a for p, a in zip(previous, cmd, strict=True)]
    log("regbench: " + " ".join(shown[1:]))
    failures: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:  # pass regbench's progress through, keep its failures
                print(line, end="", flush=True)
                if " FAILED: " in line:
                    failures.append(line.strip())
        except BaseException:
            # Interrupted (a SIGINT sent to berth bench alone, not its process group): stop
            # regbench too rather than wait for the rest of its run.
            proc.terminate()
            raise
    if proc.returncode != 0 or not json_path.exists():
        raise RuntimeError(f"regbench exited with {proc.returncode}: {failures[-3:]}")
    result = json.loads(json_path.read_text())
    result["failures"] = failures
    return result


def _catalog_failed_for_berth(rb: dict[str, Any] | None) -> bool:
    if not rb:
        return False
    row = (rb.get("metrics") or {}).get("catalog")
    if row is None:
        return False  # not requested
    return "b" not in row and any("[b] catalog rep " in f for f in rb.get("failures", []))


def _memory(rb: dict[str, Any] | None, growth: dict[str, Any] | None) -> dict[str, Any]:
    mem: dict[str, Any] = {}
    metrics = (rb or {}).get("metrics") or {}

    def med(key: str, lab: str) -> float | None:
        cell = (metrics.get(key) or {}).get(lab)
        return round(cell["median"], 1) if isinstance(cell, dict) else None

    mem["rss_idle_mb"] = med("rss_idle", "b")
    mem["pss_idle_mb"] = med("pss_idle", "b")
    mem["rss_setup_mb"] = med("rss_setup", "b")
    mem["regbench_rss_peak_mb"] = med("rss_peak", "b")
    procs = med("procs", "b")
    mem["procs"] = int(procs) if procs is not None else None
    mem["distribution_rss_idle_mb"] = med("rss_idle", "a")
    mem["distribution_rss_peak_mb"] = med("rss_peak", "a")
    mem["growth_rss_peak_mb"] = (growth or {}).get("rss_peak_mb")
    peaks = [p for p in (mem["regbench_rss_peak_mb"], mem["growth_rss_peak_mb"]) if p]
    mem["rss_peak_mb"] = max(peaks) if peaks else None
    return mem


def _measure(opts: BenchOptions, tmp: Path, results: dict[str, Any]) -> None:
    password = secrets.token_urlsafe(18)
    growth_sizes = QUICK_GROWTH if opts.quick else FULL_GROWTH
    tag_sizes = opts.growth_tags or growth_sizes["tags"]
    repo_sizes = opts.growth_repos or growth_sizes["repos"]
    startup: dict[str, Any] = {"restarts_s": [], "first_run_s": None}
    results["startup"] = startup

    if opts.deployment == "embedded":
        log("timing the first start of the embedded default (empty data dir)")
        startup["first_run_s"] = round(first_run_start(tmp / "first-run"), 3)
        log(f"  first run: {startup['first_run_s']:.2f} s to the first 200 on /v2/")

    with contextlib.ExitStack() as stack:
        deployment = Deployment(opts.deployment, tmp, stack)
        dist = Distribution(tmp / "distribution", s3=deployment.distribution_s3())
        stack.callback(dist.stop)
        dist.start()
        results["distribution"] = {"version": dist.version()}
        log(f"distribution at {dist.url} (pid {dist.pid})")

        berth = Berth(
            tmp / "berth",
            BENCH_USER,
            password,
            deployment.berth_config("berth_bench"),
            workers=opts.workers,
        )
        stack.callback(berth.stop)
        berth.prepare()
        for i in range(RESTARTS):
            if i:
                berth.stop()
                time.sleep(0.5)
            startup["restarts_s"].append(round(berth.start(), 3))
            log(f"berth start {i + 1}: {startup['restarts_s'][-1]:.2f} s to the first 200")
        log(f"berth at {berth.url} (pid {berth.pid})")

        try:
            results["regbench"] = _run_regbench(dist, berth, opts, tmp / "regbench.json")
        except RuntimeError as e:
            results["regbench_error"] = str(e)
            log(f"regbench FAILED: {e} (see its output above)")
        if _catalog_failed_for_berth(results.get("regbench")):
            log("regbench could not time Berth's catalog: timing both catalogs directly")
            try:
                results["catalog_fallback"] = catalog_fallback(
                    dist.url, berth.url, berth.user, berth.password, quick=opts.quick
                )
            except (GrowthError, OSError) as e:
                results["catalog_fallback"] = {"error": str(e)}
        berth.stop()
        dist.stop()
        startup["stops"] = berth.stops
        slow = [s for s in berth.stops if s["killed"]]
        if slow:
            log(f"WARNING: berth ignored SIGTERM and was killed after 15 s ({len(slow)} times)")

        if not opts.skip_growth:
            g = Berth(
                tmp / "berth-growth",
                BENCH_USER,
                password,
                deployment.berth_config("berth_growth"),
                workers=opts.workers,
            )
            stack.callback(g.stop)
            g.prepare()
            g.start()
            log(f"cost growth: tags {tag_sizes[0]:,} vs {tag_sizes[1]:,}, repositories "
                f"{repo_sizes[0]:,} vs {repo_sizes[1]:,} (fresh Berth at {g.url})")  # fmt: skip
            try:
                results["growth"] = run_growth(
                    g.url,
                    g.pid,
                    BENCH_USER,
                    password,
                    tag_sizes,
                    repo_sizes,
                    growth_sizes["robots"],
                    min_samples=3 if opts.quick else 5,
                    min_time=0.5 if opts.quick else 2.0,
                )
            except (GrowthError, OSError) as e:
                results["growth"] = {"error": str(e)}
                log(f"cost growth FAILED: {e}")
            g.stop()

        if not opts.skip_notify:
            hook_port = free_port()
            nb = Berth(
                tmp / "berth-notify",
                BENCH_USER,
                password,
                {**deployment.berth_config("berth_notify"), "SSRF_ALLOWED_HOSTS": ["127.0.0.1"]},
                workers=opts.workers,
            )
            stack.callback(nb.stop)
            nb.prepare()
            nb.start()
            log(f"push throughput with a webhook notification vs without (fresh Berth at {nb.url})")
            try:
                results["notifications"] = run_notify(
                    nb.url,
                    BENCH_USER,
                    password,
                    hook_port,
                    n=100 if opts.quick else 500,
                    rounds=2 if opts.quick else 4,
                )
                r = results["notifications"]
                log(f"  without: {r['without_per_s']}/s, with a webhook: "
                    f"{r['with_webhook_per_s']}/s (ratio {r['ratio']}), "
                    f"{r['distinct_delivery_ids']} distinct deliveries")  # fmt: skip
            except (GrowthError, OSError) as e:
                results["notifications"] = {"error": str(e)}
                log(f"notification throughput FAILED: {e}")
            nb.stop()

        if not opts.skip_scan_backlog:
            backlog, layer_kb = (20, 256) if opts.quick else (200, 512)
            log(
                f"push throughput while the scanner works off {backlog} images vs the scanner "
                "off (two fresh Berths, one after the other)"
            )
            sides: dict[str, dict[str, Any]] = {}
            try:
                for which, scanner_on in (("off", False), ("on", True)):
                    sb = Berth(
                        tmp / f"berth-scan-{which}",
                        BENCH_USER,
                        password,
                        {
                            **deployment.berth_config(f"berth_scan_{which}"),
                            "FEATURE_SECURITY_SCANNER": scanner_on,
                        },
                        workers=opts.workers,
                    )
                    stack.callback(sb.stop)
                    sb.prepare()
                    sb.start()
                    sides[which] = run_scan_backlog(
                        sb.url if which == "off" else None,
                        sb.url if which == "on" else None,
                        BENCH_USER,
                        password,
                        which=which,
                        backlog=backlog,
                        layer_kb=layer_kb,
                        n=100 if opts.quick else 300,
                        rounds=2 if opts.quick else 4,
                    )
                    sb.stop()
                r = combine(sides["off"], sides["on"], backlog=backlog, layer_kb=layer_kb)
                results["scan_backlog"] = r
                left = r["backlog_left_after_rounds"]
                log(f"  scanner off: {r['scanner_off_per_s']}/s, on with a backlog: "
                    f"{r['scanner_on_with_backlog_per_s']}/s (ratio {r['ratio']}, target 0.9), "
                    f"{left} images still queued after the rounds")  # fmt: skip
            except (GrowthError, OSError, httpx.HTTPError) as e:
                results["scan_backlog"] = {"error": str(e)}
                log(f"scan backlog FAILED: {e}")

        if not opts.skip_logs:
            rows = opts.logs_rows or (QUICK_ROWS if opts.quick else FULL_ROWS)
            log(f"usage logs: a page at {rows[0]:,} vs {rows[1]:,} rows, a month's aggregate")
            confs = []
            for name in ("berth_logs_small", "berth_logs_large"):
                conf_dir = tmp / name
                conf_dir.mkdir(parents=True, exist_ok=True)
                conf = {
                    "SERVER_HOSTNAME": "localhost",
                    "BERTH_DATA_DIR": str(conf_dir / "data"),
                    **deployment.berth_config(name),
                }
                (conf_dir / "config.yaml").write_text(json.dumps(conf))
                confs.append(conf_dir / "config.yaml")
            try:
                results["logs"] = run_logs((confs[0], confs[1]), rows, quick=opts.quick)
            except Exception as e:  # reported; the rest of the run stands
                results["logs"] = {"error": str(e)}
                log(f"usage logs FAILED: {e}")
        if not opts.skip_quota:
            results["quota_push"] = compare_push_with_quota(
                tmp / "quota",
                BENCH_USER,
                password,
                deployment.berth_config,
                quick=opts.quick,
                workers=opts.workers,
                log=log,
            )
            results["pull_stats_get"] = compare_pull_with_stats(
                tmp / "pull-stats",
                BENCH_USER,
                password,
                deployment.berth_config,
                quick=opts.quick,
                workers=opts.workers,
                log=log,
            )
    if opts.proxy:
        log("proxy cache: cold and warm pulls, Berth's proxy cache vs distribution's pull-through")
        try:
            proxy = run_proxy_bench(
                tmp / "proxy",
                images=4,
                layer_mb=4 if opts.quick else 16,
                reps=2 if opts.quick else 3,
            )
        except (OSError, RuntimeError, AssertionError, BenchSetupError) as e:
            results["proxy"] = {"error": str(e)}
            log(f"proxy cache FAILED: {e}")
        else:
            results["proxy"] = proxy
            for phase in ("cold", "warm"):
                dist_s, berth_s = proxy[f"distribution_{phase}_s"], proxy[f"berth_{phase}_s"]
                ratio = proxy[f"{phase}_ratio"]
                log(f"proxy cache {phase}: distribution {dist_s} s, Berth {berth_s} s ({ratio}x)")
    if opts.mirror:
        log("mirroring: one sync of N tags, Berth's mirror vs skopeo sync")
        try:
            mirror = run_mirror_bench(
                tmp / "mirror",
                tags=10 if opts.quick else 50,
                layer_mb=1 if opts.quick else 4,
                reps=1 if opts.quick else 3,
            )
        except (OSError, RuntimeError, AssertionError, BenchSetupError) as e:
            results["mirror"] = {"error": str(e)}
            log(f"mirroring FAILED: {e}")
        else:
            results["mirror"] = mirror
            log(
                f"mirroring {mirror['tags']} tags: Berth {mirror['berth_s']} s "
                f"(again {mirror['berth_again_s']} s), skopeo {mirror['skopeo_s']} s "
                f"({mirror['ratio']}x; {mirror['note']})"
            )

    restarts = startup["restarts_s"]
    candidates = [statistics.median(restarts)] if restarts else []
    if startup["first_run_s"] is not None:
        candidates.append(startup["first_run_s"])
    startup["median_restart_s"] = round(statistics.median(restarts), 3) if restarts else None
    startup["worst_s"] = round(max(candidates), 3) if candidates else None
    results["memory"] = _memory(results.get("regbench"), results.get("growth"))


def _write_docs(results: dict[str, Any], json_name: str, docs_dir: Path) -> None:
    svg = docs_dir / "img" / "performance.svg"
    svg.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(report.render_svg(results))
    section = report.markdown_section(results, json_name, "img/performance.svg")
    report.update_markdown(docs_dir / "performance.md", section)
    log(f"updated {docs_dir / 'performance.md'} and {svg}")


def run_bench(options: BenchOptions) -> int:
    """Run (or, with ``from_json``, re-report) the benchmark. 0 ok, 1 target missed with
    ``check``, 2 the benchmark itself could not run."""
    opts = options
    root = checkout_root()
    docs_dir = opts.docs_dir or (root / "docs" if root and (root / "docs").is_dir() else None)

    if opts.from_json:
        results = json.loads(Path(opts.from_json).read_text())
        results["targets"] = report.evaluate(results)
        json_name = Path(opts.from_json).name
        update_docs = opts.docs if opts.docs is not None else True
    else:
        try:
            _preflight()
        except BenchSetupError as e:
            print(f"berth bench: {e}", file=sys.stderr)
            return 2
        t0 = time.time()
        results = {
            "tool": "berth bench",
            "version": 1,
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)),
            "deployment": opts.deployment,
            "quick": opts.quick,
            "machine": report.describe_machine(),
            "berth": {
                "version": metadata.version("berth"),
                "commit": _git_commit(root),
                "workers": opts.workers,
            },
        }
        tmp = Path(tempfile.mkdtemp(prefix="berth-bench-"))
        try:
            _measure(opts, tmp, results)
        except BenchSetupError as e:
            print(f"berth bench: {e}", file=sys.stderr)
            return 2
        finally:
            if opts.keep:
                log(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        results["elapsed_s"] = round(time.time() - t0, 1)
        results["targets"] = report.evaluate(results)
        opts.out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t0))
        path = opts.out / f"{stamp}.json"
        path.write_text(json.dumps(results, indent=1, default=str) + "\n")
        json_name = str(path)
        log(f"results written to {path}")
        update_docs = opts.docs if opts.docs is not None else not opts.quick

    print()
    print(report.text_table(results))
    missed = report.misses(results)
    if missed:
        print("\ntargets missed: " + ", ".join(m["label"] for m in missed))
    if update_docs:
        if docs_dir is None:
            log("no docs/ directory found (not a checkout?): docs not updated")
        else:
            _write_docs(results, Path(json_name).name, docs_dir)
    if results.get("regbench_error") or (results.get("growth") or {}).get("error"):
        return 2
    return 1 if (opts.check and missed) else 0
