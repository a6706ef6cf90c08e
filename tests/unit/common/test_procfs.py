"""The smaps_rollup reader: the totals bench and the lab tests report memory from."""

from __future__ import annotations

import os

from cluster.common.procfs import MemoryUse, memory_use, parse_smaps_rollup

_ROLLUP = """\
55c57ef85000-7fff7414a000 ---p 00000000 00:00 0                          [rollup]
Rss:                1728 kB
Pss:                 226 kB
Pss_Dirty:           112 kB
Shared_Clean:       1576 kB
Private_Clean:        40 kB
Private_Dirty:       112 kB
Anonymous:           112 kB
Locked:               64 kB
"""


def test_totals_are_read_and_uss_is_the_private_pages() -> None:
    assert parse_smaps_rollup(_ROLLUP) == MemoryUse(rss=1728, pss=226, uss=152, locked=64)


def test_a_missing_line_counts_zero() -> None:
    assert parse_smaps_rollup("Rss: 10 kB\n") == MemoryUse(rss=10, pss=0, uss=0, locked=0)


def test_a_live_process_and_a_gone_one() -> None:
    mine = memory_use(os.getpid())
    assert mine is not None and 0 < mine.uss <= mine.pss <= mine.rss
    assert memory_use(2**22 + 1) is None  # above pid_max's ceiling: never a process
