"""Following log files: appended lines, partial lines, truncation."""

from __future__ import annotations

from pathlib import Path

from cluster.web.logtail import LogTail


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
