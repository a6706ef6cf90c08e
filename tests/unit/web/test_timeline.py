"""The timeline read from successive cluster pictures."""

from __future__ import annotations

from typing import Any

from cluster.web.timeline import Timeline


def _picture(states: dict[str, str], holder: str | None,
             failures: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"nodes": [{"name": n, "state": s} for n, s in states.items()],
            "groups": [{"key": "vip", "node": holder}], "failed_actions": list(failures)}


def test_first_picture_is_the_baseline() -> None:
    assert Timeline().observe(_picture({"a": "online", "b": "online"}, "a"), 0.0) == []


def test_failover_after_a_death_has_the_outage_from_the_death() -> None:
    timeline = Timeline()
    timeline.observe(_picture({"a": "online", "b": "online"}, "a"), 0.0)
    # a dies; b's status still says the group is on a for a moment
    dead = timeline.observe(_picture({"a": "offline", "b": "online"}, "a"), 10.0)
    assert [e["kind"] for e in dead] == ["node-dead"]
    moved = timeline.observe(_picture({"a": "offline", "b": "online"}, "b"), 10.8)
    assert len(moved) == 1
    assert moved[0]["kind"] == "failover" and moved[0]["node"] == "b"
    assert abs(moved[0]["duration"] - 0.8) < 1e-9
    assert "from a to b" in moved[0]["text"]


def test_standby_move_measures_from_the_stop() -> None:
    timeline = Timeline()
    timeline.observe(_picture({"a": "online", "b": "online"}, "a"), 0.0)
    entries = timeline.observe(_picture({"a": "standby", "b": "online"}, None), 1.0)
    assert [e["kind"] for e in entries] == ["standby"]
    moved = timeline.observe(_picture({"a": "standby", "b": "online"}, "b"), 1.5)
    assert moved[0]["kind"] == "failover" and moved[0]["duration"] == 0.5
    back = timeline.observe(_picture({"a": "online", "b": "online"}, "b"), 2.0)
    assert [e["kind"] for e in back] == ["online"]


def test_restart_in_place_and_join() -> None:
    timeline = Timeline()
    timeline.observe(_picture({"a": "offline", "b": "online"}, "b"), 0.0)
    timeline.observe(_picture({"a": "offline", "b": "online"}, None), 1.0)
    again = timeline.observe(_picture({"a": "online", "b": "online"}, "b"), 3.0)
    assert sorted(e["kind"] for e in again) == ["node-join", "restart"]
    assert next(e for e in again if e["kind"] == "restart")["duration"] == 2.0


def test_each_failure_once() -> None:
    failure = {"node": "a", "group": "vip", "resource": "httpd", "action": "monitor",
               "outcome": "not running", "when": 5.0}
    timeline = Timeline()
    timeline.observe(_picture({"a": "online"}, "a"), 0.0)
    first = timeline.observe(_picture({"a": "online"}, "a", (failure,)), 6.0)
    assert [e["kind"] for e in first] == ["failure"] and first[0]["when"] == 5.0
    assert timeline.observe(_picture({"a": "online"}, "a", (failure,)), 7.0) == []


def test_fencing() -> None:
    entry = Timeline().fenced("a", True, "rps10 /dev/ttyS1", "", 1.0)
    assert entry["kind"] == "fence" and "rps10" in entry["text"]
    assert Timeline().fenced("a", False, "", "no device", 1.0)["kind"] == "fence-failed"
