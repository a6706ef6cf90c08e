"""stonithd's request rules (Fencer), driven with a fake `now`: no processes, no sleeping."""

from __future__ import annotations

from cluster.stonithd.fencing import (
    KILL_GRACE,
    RETRY_DELAY,
    ROUNDS,
    Action,
    AttemptFailed,
    CancelOperation,
    Completed,
    Device,
    Fencer,
    StartOperation,
)

RPS = Device("rps10 /dev/ttyS0", "rps10", 35.0)
EXT = Device("external/ipmi", "external/ipmi", 60.0)
MEAT = Device("meatware", "meatware", 60.0, manual=True)


def fencer(*devices: Device, hosts: dict[str, tuple[str, ...]] | None = None,
           rand: float = 0.0) -> Fencer:
    core = Fencer("alice", devices, lambda: rand)
    for name, names in (hosts or {d.name: ("bob", "carol") for d in devices}).items():
        core.set_hosts(name, names)
    return core


def starts(actions: list[Action]) -> list[StartOperation]:
    return [a for a in actions if isinstance(a, StartOperation)]


def completed(actions: list[Action]) -> Completed:
    done = [a for a in actions if isinstance(a, Completed)]
    assert len(done) == 1, actions
    return done[0]


def test_success_on_the_first_device() -> None:
    core = fencer(RPS, EXT)
    key, actions = core.submit("Bob", "reset", "bob is gone", "crmd", 60.0, now=0.0)
    assert key == ("bob", "reset")
    (start,) = starts(actions)
    assert (start.device, start.action, start.node, start.timeout) == (RPS, "reset", "bob", 35.0)
    done = completed(core.finished(start.op_id, True, "Plug 0 Off / Complete", now=3.0))
    assert done.result.ok and done.result.device == RPS.name and done.result.attempts == 1
    assert done.requested_by == "crmd" and done.reason == "bob is gone"
    assert core.idle() and not core.busy(RPS.name)


def test_failures_try_the_next_device_then_retry_rounds_then_give_up() -> None:
    core = fencer(RPS, EXT)
    _key, actions = core.submit("bob", "reset", "", "", 300.0, now=0.0)
    now, attempts = 0.0, []
    while True:
        (start,) = starts(actions)
        attempts.append((now, start.device.name))
        actions = core.finished(start.op_id, False, f"boom {len(attempts)}", now)
        if any(isinstance(a, Completed) for a in actions):
            break
        failed = [a for a in actions if isinstance(a, AttemptFailed)]
        assert len(failed) == 1
        if failed[0].retry_in:
            assert starts(actions) == [] and core.next_wakeup() == now + RETRY_DELAY
            now += RETRY_DELAY
            actions = core.tick(now)
    assert [name for _t, name in attempts] == [RPS.name, EXT.name] * ROUNDS
    assert [t for t, _n in attempts] == [0, 0, 2, 2, 4, 4]
    result = completed(actions).result
    assert not result.ok and result.attempts == 2 * ROUNDS
    assert "rps10 /dev/ttyS0: boom 1; external/ipmi: boom 2" in result.detail


def test_operation_timeouts_are_capped_by_the_request_deadline() -> None:
    core = fencer(RPS)
    _key, actions = core.submit("bob", "reset", "", "", 10.0, now=100.0)
    (start,) = starts(actions)
    # deadline = 100 + 10 - 1 (reply margin); the shell kills KILL_GRACE after the timeout
    assert start.timeout == 10.0 - 1.0 - KILL_GRACE
    actions = core.finished(start.op_id, False, "TIMEOUT", now=100.0 + start.timeout)
    # A retry would start at +2 s with 0 s left: no more attempts.
    result = completed(actions).result
    assert not result.ok and "no time left" in result.detail


def test_a_request_past_its_deadline_is_cancelled() -> None:
    core = fencer(RPS)
    _key, actions = core.submit("bob", "off", "", "", 20.0, now=0.0)
    (start,) = starts(actions)
    assert core.tick(18.9) == []
    actions = core.tick(19.0)
    assert CancelOperation(start.op_id) in actions
    assert not completed(actions).result.ok
    assert core.finished(start.op_id, True, "late", 25.0) == []   # too late: ignored


def test_a_second_request_for_the_same_node_joins_the_first() -> None:
    core = fencer(RPS)
    key1, actions = core.submit("bob", "reset", "", "crmd", 60.0, now=0.0)
    key2, more = core.submit("BOB", "reset", "", "stonith CLI", 60.0, now=1.0)
    assert key1 == key2 and more == []
    (start,) = starts(actions)
    assert completed(core.finished(start.op_id, True, "ok", 2.0)).key == key1


def test_refusals() -> None:
    core = fencer(RPS, hosts={RPS.name: ("bob",)})
    for node, action, timeout, why in [
        ("alice", "reset", 60.0, "this node itself"),
        ("dave", "reset", 60.0, "no fencing device here can fence dave"),
        ("bob", "explode", 60.0, "unknown action"),
        ("bob", "reset", -1.0, "bad timeout"),
    ]:
        _key, actions = core.submit(node, action, "", "", timeout, now=0.0)
        result = completed(actions).result
        assert not result.ok and why in result.detail and result.attempts == 0


def test_one_operation_per_device_at_a_time() -> None:
    core = fencer(RPS)
    _k, first = core.submit("bob", "reset", "", "", 60.0, now=0.0)
    _k, second = core.submit("carol", "reset", "", "", 60.0, now=0.0)
    assert len(starts(first)) == 1 and starts(second) == []
    actions = core.finished(starts(first)[0].op_id, True, "ok", now=5.0)
    assert completed(actions).result.node == "bob"
    (start,) = starts(actions)
    assert start.node == "carol" and start.timeout == 35.0


def test_devices_with_known_hosts_come_first_then_unknown_ones() -> None:
    core = Fencer("alice", [RPS, EXT, MEAT], lambda: 0.0)
    core.set_hosts(EXT.name, ("bob",))
    core.set_hosts(MEAT.name, ("carol",))
    assert core.candidates("bob") == [EXT, RPS]
    assert core.candidates("carol") == [MEAT, RPS]


def test_fencing_delay_before_the_first_attempt() -> None:
    slow = Device("external/ipmi", "external/ipmi", 60.0, delay_base=5.0, delay_max=4.0)
    core = fencer(slow, rand=0.5)
    _key, actions = core.submit("bob", "reset", "", "", 60.0, now=0.0)
    assert starts(actions) == [] and core.next_wakeup() == 7.0
    assert starts(core.tick(6.9)) == []
    (start,) = starts(core.tick(7.0))
    assert start.timeout == 60.0 - 1.0 - 7.0 - KILL_GRACE   # the delay comes out of the budget


def test_meatware_gets_all_the_time_once() -> None:
    core = fencer(MEAT)
    _key, actions = core.submit("bob", "reset", "", "", 120.0, now=0.0)
    (start,) = starts(actions)
    assert start.timeout == 120.0 - 1.0 - KILL_GRACE
    assert core.running_op("bob", manual=True) == start.op_id
    result = completed(core.finished(start.op_id, False, "no confirmation", 118.0)).result
    assert not result.ok and result.attempts == 1


def test_shutdown_cancels_everything() -> None:
    core = fencer(RPS)
    _k, actions = core.submit("bob", "reset", "", "", 60.0, now=0.0)
    core.submit("carol", "reset", "", "", 60.0, now=0.0)
    out = core.cancel_all("stonithd is shutting down")
    assert CancelOperation(starts(actions)[0].op_id) in out
    results = [a.result for a in out if isinstance(a, Completed)]
    assert sorted(r.node for r in results) == ["bob", "carol"]
    assert all(not r.ok and "shutting down" in r.detail for r in results)
    assert core.idle() and not core.busy(RPS.name)
