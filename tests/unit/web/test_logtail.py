"""Following log files: appended lines, partial lines, truncation."""

from __future__ import annotations

from pathlib import Path

from cluster.web.logtail import LogTail, newest_within


def test_follows_appends_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "crmd.log"
    log.write_text("old 1\nold 2\n")
    tail = LogTail(tmp_path)
    assert tail.poll() == {"crmd": ["old 1", "old 2"]}
    assert tail.poll() == {}
    with open(log, "a") as handle:
        handle.write("new 1\nhalf")
    assert tail.poll() == {"crmd": ["new 1"]}
    with open(log, "a") as handle:
        handle.write(" done\n")
    assert tail.poll() == {"crmd": ["half done"]}
    log.write_text("rotated\n")
    assert tail.poll() == {"crmd": ["rotated"]}


def test_starts_near_the_end_of_a_big_file(tmp_path: Path) -> None:
    (tmp_path / "hbcomm.log").write_text("".join(f"line {i:05d}\n" for i in range(5000)))
    lines = LogTail(tmp_path).poll()["hbcomm"]
    assert lines[-1] == "line 04999" and lines[0].startswith("line ") and len(lines) < 1000


def test_newest_within_keeps_the_newest_lines_of_every_daemon() -> None:
    found = {"crmd": [f"c{i}" for i in range(100)], "ccm": ["m0", "m1"]}
    kept = newest_within(found, 20)
    assert kept == {"crmd": ["c97", "c98", "c99"], "ccm": ["m0", "m1"]}
    assert newest_within(found, 10_000) == found
    assert newest_within({"crmd": ["x" * 5000]}, 2000) == {"crmd": ["x" * 1000]}
    assert newest_within(found, 0) == {}
