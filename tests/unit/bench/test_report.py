"""``berth bench``'s verdicts: which targets a results file meets, misses, or leaves alone."""

from __future__ import annotations

from typing import Any

from bench import report


def _results(deployment: str, *, start_s: float, manifest_put: float) -> dict[str, Any]:
    return {
        "deployment": deployment,
        "regbench": {"metrics": {"manifest_put": {"ratio_b_over_a": manifest_put}}},
        "startup": {"worst_s": start_s},
        "memory": {"rss_idle_mb": 120.0, "rss_peak_mb": 390.0},
    }


def _verdicts(results: dict[str, Any]) -> dict[str, Any]:
    results["targets"] = report.evaluate(results)
    return {row["key"]: row for row in results["targets"]}


def test_a_slow_embedded_start_is_a_miss() -> None:
    results = _results("embedded", start_s=2.4, manifest_put=1.3)
    verdicts = _verdicts(results)
    assert verdicts["start"]["met"] is False
    assert verdicts["manifest_put"]["met"] is True
    assert "start" in {row["key"] for row in report.misses(results)}
    assert "manifest_put" not in {row["key"] for row in report.misses(results)}
    assert "MISSED" in report.text_table(results)


def test_the_start_target_is_the_embedded_defaults_only() -> None:
    results = _results("distributed", start_s=2.6, manifest_put=0.9)
    verdicts = _verdicts(results)
    assert verdicts["start"]["applies"] is False
    missed = {row["key"] for row in report.misses(results)}
    assert "start" not in missed
    assert "manifest_put" in missed  # every other target still judges a distributed run
    start_row = next(ln for ln in report.text_table(results).splitlines() if "first 200" in ln)
    assert "2.60" in start_row
    assert "embedded target" in start_row


def test_memory_targets_are_absolute() -> None:
    results = _results("embedded", start_s=1.2, manifest_put=1.1)
    results["memory"] = {"rss_idle_mb": 151.0, "rss_peak_mb": 399.0}
    verdicts = _verdicts(results)
    assert verdicts["rss_idle"]["met"] is False
    assert verdicts["rss_peak"]["met"] is True


def test_the_web_ui_timings_are_reported() -> None:
    results = _results("embedded", start_s=1.2, manifest_put=1.1)
    point = {"items": 1000, "ui_ms": 12.0, "api_ms": 10.0, "ui_over_api": 1.2, "samples": 5}
    big = {**point, "items": 100_000, "ui_ms": 12.6, "ui_over_api": 1.26}
    results["growth"] = {
        "web_ui": {"tags_tab": {"points": [point, big], "ui_large_over_small": 1.05}}
    }
    text = report.text_table(results)
    assert "web UI, tags tab (page vs /api/v1): 1,000: 12.0 ms vs 10.0 ms (1.20x)" in text
    md = report.markdown_section(results, "run.json", None)
    assert "| 100,000 | 12.6 ms | 10.0 ms | 1.26\N{MULTIPLICATION SIGN} |" in md
    assert "tags_tab 1.05\N{MULTIPLICATION SIGN}" in md
    results["growth"] = {"web_ui": {"error": "POST /signin -> 403"}}
    assert "**not measured**: POST /signin -> 403" in report.markdown_section(
        results, "run.json", None
    )


def test_the_usage_logs_check_is_reported() -> None:
    logs = {
        "rows": [10_000, 10_000_000],
        "pages": [
            {"query": "namespace, first page", "small_ms": 1.0, "large_ms": 1.2, "ratio": 1.2}
        ],
        "page_ratio_max": 1.2,
        "aggregate": {"rows": 1_000_000, "days": 30, "ms": 420.0},
    }
    text = report.text_table({"logs": logs})
    assert "usage logs, a page at 10,000 vs 10,000,000 rows (worst ratio 1.20" in text
    assert "a month's aggregate over 1,000,000 entries: 420" in text
    section = report.markdown_section({"logs": logs}, "run.json", None)
    assert "| namespace, first page | 1.00 ms | 1.20 ms | 1.20" in section
    assert "usage logs: FAILED: boom" in report.text_table({"logs": {"error": "boom"}})
