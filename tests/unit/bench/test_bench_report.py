"""The benchmark report's arithmetic and layout, and `python3 -m bench` option handling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.__main__ import SECTIONS, parse
from bench.common import Timing, ha_cf
from bench.report import Table, document, stat_cells
from bench.stats import Stats


def test_stats_take_measured_values_for_percentiles() -> None:
    s = Stats.of([0.3, 0.1, 0.2, 0.5, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    assert (s.n, s.median, s.p90, s.minimum, s.maximum) == (11, 0.6, 1.0, 0.1, 1.1)
    assert Stats.of([0.2, 0.1, 0.3]).p90 == 0.3
    with pytest.raises(ValueError):
        Stats.of([])


def test_stat_cells_are_median_p90_max_n_in_ms() -> None:
    assert stat_cells([0.5, 0.6, 0.7]) == ("600.0 ms", "700.0 ms", "700.0 ms", "3")


def test_table_markdown_and_failed_rows() -> None:
    table = Table("Title", "A note.", ("setting", "median", "n"))
    table.add("100 ms / 500 ms", "1.0 ms", "3")
    table.add_failure("1 s / 3 s", TimeoutError("node2 | never\nanswered"))
    with pytest.raises(ValueError):
        table.add("too few")
    assert table.failures == 1
    assert table.markdown().splitlines() == [
        "**Title**", "", "A note.", "",
        "| setting | median | n |",
        "|---|---|---|",
        "| 100 ms / 500 ms | 1.0 ms | 3 |",
        "| 1 s / 3 s | failed: TimeoutError: node2 / never answered |  |",
    ]


def test_document_names_command_and_machine() -> None:
    started = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    text = document([Table("T", "", ("a", "b"))], ["--quick"], started, 90.0)
    assert text.startswith("Measured 2030-01-02 03:04 UTC with `python3 -m bench --quick` "
                           "(took 1.5 min) on ")
    assert "cores (nproc), Linux " in text and "**T**" in text


def test_timing_labels_and_ha_cf() -> None:
    assert Timing(0.01, 0.03).label == "10 ms / 30 ms"
    assert Timing(1.0, 3.0).label == "1 s / 3 s"
    text = ha_cf(["a", "b"], Timing(0.1, 0.5), media=("eth0", "eth1"), auto_failback=True)
    assert text.splitlines() == ["keepalive 100ms", "deadtime 500ms", "warntime 250ms",
                                 "initdead 2000ms", "auto_failback on", "bcast eth0",
                                 "bcast eth1", "node a b"]


def test_quick_defaults_yield_to_explicit_options() -> None:
    quick = parse(["--quick", "--runs", "5"])
    assert (quick.runs, quick.false_minutes, quick.idle_seconds, quick.sizes) == \
        (5, 0.5, 10.0, (2, 4))
    full = parse(["--only", "idle,membership", "--sizes", "2,8"])
    assert (full.runs, full.sizes, full.only) == (20, (2, 8), ("idle", "membership"))
    assert parse([]).only == SECTIONS
    with pytest.raises(SystemExit):
        parse(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        parse(["--sizes", "1"])
