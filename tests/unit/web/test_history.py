"""The kept, shared timeline: merge without duplicates, bounds, the file across restarts."""

from __future__ import annotations

from pathlib import Path

from cluster.web import history
from cluster.web.history import FILE, History, from_message, to_message


def _entry(ident: str, when: float, kind: str = "failover", group: str | None = "g",
           node: str | None = "b") -> history.Entry:
    return {"id": ident, "when": when, "kind": kind, "text": f"{kind} {ident}", "node": node,
            "group": group, "duration": 0.5}


def test_merge_by_id_and_by_the_same_event_seen_twice() -> None:
    kept = History(None, now=100.0)
    assert kept.add(_entry("a:failover:50", 50.0), 100.0)
    assert not kept.add(_entry("a:failover:50", 50.0), 100.0)          # the same entry again
    assert not kept.add(_entry("b:failover:52", 52.0), 100.0)          # b saw it too
    assert kept.add(_entry("b:failover:70", 70.0), 100.0)              # a later failover
    assert kept.add(_entry("a:failover:51", 51.0), 100.0)              # a moved it again
    assert not kept.add(_entry("b:failover:51.5", 51.5), 100.0)        # b saw that too
    assert not kept.add(_entry("b:restart:51.2", 51.2, "restart"), 100.0)  # or missed a part
    assert kept.add(_entry("b:fence:40", 40.0, "fence", None), 100.0)  # older, merged in order
    assert [e["id"] for e in kept.entries] == ["b:fence:40", "a:failover:50", "a:failover:51",
                                               "b:failover:70"]
    assert kept.last_fence() == _entry("b:fence:40", 40.0, "fence", None)
    assert not kept.add({"id": 1, "when": "x"}, 100.0)                 # malformed: ignored
    assert not kept.add(_entry("old", 100.0 - history.MAX_AGE - 1), 100.0)


def test_the_file_survives_a_restart_stays_bounded_and_skips_a_torn_line(tmp_path: Path) -> None:
    kept = History(tmp_path, now=0.0)
    for i in range(history.KEEP * 2 + 10):
        kept.add(_entry(f"a:{i}", 100.0 + 20 * i), 0.0)
    lines = (tmp_path / FILE).read_text().splitlines()
    assert history.KEEP <= len(lines) < 2 * history.KEEP
    with open(tmp_path / FILE, "a") as handle:
        handle.write('{"id": "torn')
    again = History(tmp_path, now=0.0)
    assert again.entries == kept.entries and len(again.entries) == history.KEEP
    assert len((tmp_path / FILE).read_text().splitlines()) == history.KEEP


def test_entries_cross_the_cluster_unchanged() -> None:
    entry = _entry("a:fence:1.000", 1.0, "fence", group=None)
    entry["duration"] = None
    assert from_message(to_message(entry)) == entry
