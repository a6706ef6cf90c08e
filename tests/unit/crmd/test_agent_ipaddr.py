"""The built-in IPaddr agent against an in-memory kernel and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster.bus.loop import Loop
from cluster.crmd.agents.arp import garp_frames
from cluster.crmd.agents.ipaddr import IpAddressAgent
from cluster.crmd.agents.protocol import OpRequest, Outcome, Reply

from .agentkit import FakeClock, FakeNetlink, RecordingArp

START = OpRequest("start", 0.0, 20.0)
STOP = OpRequest("stop", 0.0, 20.0)
MONITOR = OpRequest("monitor", 10.0, 20.0)
REANNOUNCE = OpRequest("reannounce", 0.0, 20.0)


class Rig:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.loop = Loop(self.clock)
        self.netlink = FakeNetlink()
        self.netlink.add_link("lo", "127.0.0.1", 8)
        self.eth0 = self.netlink.add_link("eth0", "10.0.0.1", 24)
        self.eth1 = self.netlink.add_link("eth1", "192.168.7.1", 24)
        self.arp = RecordingArp()

    def agent(self, *args: str) -> IpAddressAgent:
        return IpAddressAgent(args, self.loop, self.netlink, self.arp)

    def advance(self, seconds: float) -> None:
        """Move the fake clock in small steps, running due timers."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = min(end, self.clock.now + 0.01)
            self.loop.run_once(max_wait=0)


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.loop.close()


def _run(agent: IpAddressAgent, request: OpRequest) -> Reply:
    reply = agent.execute(request)
    assert isinstance(reply, Reply)  # built-in: answered at once, no procedure
    return reply


def test_start_adds_the_address_and_is_idempotent(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0")
    assert _run(agent, MONITOR).outcome is Outcome.NOT_RUNNING
    assert _run(agent, START).outcome is Outcome.OK
    assert rig.netlink.holds("10.0.0.5") == [("eth0", 24)]
    assert rig.netlink.added == [("10.0.0.5", 24, "10.0.0.255", None)]
    again = _run(agent, START)
    assert again.outcome is Outcome.OK and "already" in again.detail
    assert len(rig.netlink.added) == 1
    assert _run(agent, MONITOR).outcome is Outcome.OK


def test_stop_removes_and_is_idempotent(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0")
    _run(agent, START)
    assert _run(agent, STOP).outcome is Outcome.OK
    assert rig.netlink.holds("10.0.0.5") == []
    assert _run(agent, STOP).outcome is Outcome.OK
    assert _run(agent, MONITOR).outcome is Outcome.NOT_RUNNING


def test_stop_takes_the_address_from_its_interface_only_alias_label_or_not(rig: Rig) -> None:
    """The release matches interfaces by the address's label (``eth0`` or ``eth0:web``)."""
    assert _run(rig.agent("10.0.0.9/24/eth0:web"), START).outcome is Outcome.OK
    rig.netlink.add_address(rig.eth1.index, "10.0.0.9", 24, None, None)
    reply = _run(rig.agent("10.0.0.9/24/eth0"), STOP)
    assert reply.outcome is Outcome.OK and reply.detail == "10.0.0.9 removed from eth0"
    assert rig.netlink.holds("10.0.0.9") == [("eth1", 24)]
    assert _run(rig.agent("10.0.0.9/24/eth0"), STOP).detail == "10.0.0.9 was not configured"


def test_findif_picks_interface_and_prefix(rig: Rig) -> None:
    agent = rig.agent("192.168.7.20")
    assert _run(agent, START).outcome is Outcome.OK
    assert rig.netlink.holds("192.168.7.20") == [("eth1", 24)]
    # ip/iface: bits from that interface's subnet
    assert _run(rig.agent("10.0.0.6/eth0"), START).outcome is Outcome.OK
    assert rig.netlink.holds("10.0.0.6") == [("eth0", 24)]
    # explicit bits override the subnet's; /32 gets no broadcast
    assert _run(rig.agent("10.0.0.7/32"), START).outcome is Outcome.OK
    assert rig.netlink.added[-1] == ("10.0.0.7", 32, None, None)


def test_no_matching_subnet_or_interface_is_invalid_here(rig: Rig) -> None:
    reply = _run(rig.agent("172.16.0.1"), START)
    assert reply.outcome is Outcome.INVALID_ARGS and "172.16.0.1" in reply.detail
    reply = _run(rig.agent("10.0.0.5/24/eth9"), START)
    assert reply.outcome is Outcome.INVALID_ARGS and "eth9" in reply.detail
    assert _run(rig.agent("172.16.0.1"), STOP).outcome is Outcome.OK


def test_label_and_explicit_broadcast(rig: Rig) -> None:
    assert _run(rig.agent("10.0.0.9/24/eth0:web/10.0.0.127"), START).outcome is Outcome.OK
    assert rig.netlink.added[-1] == ("10.0.0.9", 24, "10.0.0.127", "eth0:web")


def test_bad_spec_fails_start_and_monitor_but_not_stop(rig: Rig) -> None:
    agent = rig.agent("10.0.0.999")
    assert _run(agent, START).outcome is Outcome.CONFIG_ERROR
    assert _run(agent, MONITOR).outcome is Outcome.CONFIG_ERROR
    assert _run(agent, STOP).outcome is Outcome.OK


def test_pulled_cable_fails_start_but_not_monitor(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0")
    _run(agent, START)
    rig.netlink.set_carrier("eth0", False)
    reply = _run(agent, MONITOR)
    assert reply.outcome is Outcome.OK and "no carrier" in reply.detail
    other = rig.agent("10.0.0.8/24/eth0")
    reply = _run(other, START)
    assert reply.outcome is Outcome.FAILED and reply.missing, "the node's link, not the address"
    assert rig.netlink.holds("10.0.0.8") == []
    rig.netlink.set_carrier("eth0", True)
    assert _run(agent, MONITOR).outcome is Outcome.OK


def test_gratuitous_arp_first_round_at_once_then_on_timers(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0", "arp_count=4", "arp_interval=100")
    _run(agent, START)
    frames = garp_frames(rig.eth0.mac, "10.0.0.5")
    assert rig.arp.sent == [("eth0", frames)]  # before any timer ran
    assert agent.busy
    rig.advance(0.15)
    assert len(rig.arp.sent) == 2
    rig.advance(1.0)
    assert rig.arp.sent == [("eth0", frames)] * 4
    assert not agent.busy


def test_stop_cancels_pending_announcements(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0")  # defaults: 5 rounds, 200 ms apart
    _run(agent, START)
    rig.advance(0.25)
    assert len(rig.arp.sent) == 2
    _run(agent, STOP)
    assert not agent.busy
    rig.advance(2.0)
    assert len(rig.arp.sent) == 2


def test_reannounce_repeats_the_start_train_without_touching_the_address(rig: Rig) -> None:
    agent = rig.agent("10.0.0.5/24/eth0", "arp_count=3", "arp_interval=100")
    assert _run(agent, REANNOUNCE).outcome is Outcome.NOT_RUNNING   # not here: silent
    assert rig.arp.sent == []
    _run(agent, START)
    rig.advance(1.0)
    rig.arp.sent.clear()
    reply = _run(agent, REANNOUNCE)
    assert reply.outcome is Outcome.OK and "announced again on eth0" in reply.detail
    rig.advance(1.0)
    assert rig.arp.sent == [("eth0", garp_frames(rig.eth0.mac, "10.0.0.5"))] * 3
    assert rig.netlink.added == [("10.0.0.5", 24, "10.0.0.255", None)]  # the start's only


def test_reannounce_finds_an_address_another_process_added(rig: Rig) -> None:
    """A respawned crmd has a new agent: the kernel, not the agent, says what is held."""
    _run(rig.agent("10.0.0.5/24/eth0"), START)
    rig.arp.sent.clear()
    assert _run(rig.agent("10.0.0.5/24/eth0"), REANNOUNCE).outcome is Outcome.OK
    assert len(rig.arp.sent) == 1


def test_arp_count_zero_and_loopback_send_nothing(rig: Rig) -> None:
    _run(rig.agent("10.0.0.5/24/eth0", "arp_count=0"), START)
    _run(rig.agent("127.0.0.9/8/lo"), START)
    assert rig.arp.sent == []


def test_a_failing_sender_does_not_fail_the_start(rig: Rig) -> None:
    class Broken:
        def send(self, ifname: str, frames: object) -> None:
            raise OSError(100, "Network is down")

        def close(self) -> None:
            pass

    agent = IpAddressAgent(("10.0.0.5/24/eth0",), rig.loop, rig.netlink, Broken())
    assert _run(agent, START).outcome is Outcome.OK
