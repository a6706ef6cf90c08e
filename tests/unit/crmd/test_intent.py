"""The operator's intent store: the merge rule, local writes, lifetimes; the policy obeying it."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cluster.bus.messages.crmd import Constraint, IntentEntry
from cluster.crmd.intent import Intents, IntentStore
from cluster.crmd.policy import Action, Fence, PolicyConfig, Start, Stop, decide
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, View

from .test_policy import GROUPS, KEYS, member

G1 = KEYS[0]


def entry(value: str, version: float, origin: str = "node1", kind: str = "standby",
          node: str = "node2", **kwargs: object) -> IntentEntry:
    return IntentEntry(kind, "", node, value, version, origin, **kwargs)  # type: ignore[arg-type]


def test_the_newest_version_wins_in_either_order() -> None:
    old, new = entry("on", 10.0), entry("", 11.0)
    for order in ((old, new), (new, old)):
        store = IntentStore(order)
        assert store.entries() == (new,)
        assert store.get("standby", node="node2") is None     # cleared: a tombstone


def test_a_tie_goes_to_the_higher_origin_name() -> None:
    a, b = entry("on", 10.0, "node1"), entry("", 10.0, "node2")
    assert IntentStore([a, b]).entries() == IntentStore([b, a]).entries() == (b,)


entries = st.builds(entry, st.sampled_from(["on", ""]), st.integers(0, 5).map(float),
                    st.sampled_from(["node1", "node2"]), st.sampled_from(["standby", "ban"]),
                    st.sampled_from(["node1", "node2"]))


@given(st.lists(entries, max_size=8), st.lists(entries, max_size=8))
def test_two_sides_agree_after_exchanging_copies(left: list[IntentEntry],
                                                 right: list[IntentEntry]) -> None:
    """Heal: each side merges the other's copy; both end equal, whatever the order."""
    a, b = IntentStore(left), IntentStore(right)
    a.merge(b.entries())
    b.merge(a.entries())
    assert a.entries() == b.entries()
    assert not a.behind(b.entries()) and not b.behind(a.entries())
    for perm in itertools.permutations([left, right]):
        assert IntentStore([*perm[0], *perm[1]]).entries() == a.entries()


def test_a_local_write_is_newer_than_everything_seen_even_with_a_slow_clock() -> None:
    store = IntentStore([entry("on", 1000.0, "node2")])
    written = store.write("standby", "", "node2", "", now=5.0, origin="node1")
    assert written.version > 1000.0
    assert store.get("standby", node="node2") is None


def test_lifetimes_expire_and_reboot_standby_follows_the_boot_id() -> None:
    store = IntentStore()
    store.write("ban", G1, "node1", "ban", now=100.0, origin="node1", expires=200.0)
    store.write("prefer", G1, "", "node3", now=100.0, origin="node1")
    store.write("standby", "", "node2", "on", now=100.0, origin="node1", boot="b1")
    store.write("maintenance", "", "", "true", now=100.0, origin="node1")
    now = store.resolve(150.0, {"node2": "b1"})
    assert now.banned(G1, "node1") and now.preferred(G1) == "node3"
    assert now.standby == {"node2"} and now.maintenance and now.next_expiry == 200.0
    later = store.resolve(250.0, {"node2": "b2"})         # node2's stack restarted
    assert not later.banned(G1, "node1") and later.standby == frozenset()
    assert [c.id for c in later.constraints] == [f"cli-prefer-{G1}"]


# -- the policy with intents ------------------------------------------------------------

RUNNING = {G1: GroupStatus(GroupState.STARTED)}


def _pair(intents: Intents, held_by: str = "node1") -> list[Action]:
    view = View(2, frozenset({"node1", "node2"}))
    nodes = {"node1": member("node1", 2, RUNNING if held_by == "node1" else None),
             "node2": member("node2", 2, RUNNING if held_by == "node2" else None)}
    cfg = PolicyConfig(GROUPS[:1], ("node1", "node2"))
    plan = decide(ClusterState("node1", 0.0, view, nodes, intents=intents), cfg)
    return [a for a in plan.actions if not isinstance(a, Fence) and a.group == G1]


def test_maintenance_mode_decides_nothing_at_all() -> None:
    assert _pair(Intents(maintenance=True), held_by="") == []


def test_an_unmanaged_group_is_left_as_it_is() -> None:
    assert _pair(Intents(unmanaged=frozenset({G1})), held_by="") == []


def test_standby_and_bans_stop_the_group_even_with_nowhere_else_to_go() -> None:
    ban_both = Intents(constraints=(Constraint("b1", "ban", G1, "node1", 0.0),
                                    Constraint("b2", "ban", G1, "node2", 0.0)))
    assert [type(a) for a in _pair(ban_both)] == [Stop]
    assert _pair(ban_both, held_by="") == []
    both_standby = Intents(standby=frozenset({"node1", "node2"}))
    assert [type(a) for a in _pair(both_standby)] == [Stop]


def test_a_move_places_and_moves_the_group() -> None:
    prefer = Intents(constraints=(Constraint("p", "prefer", G1, "node2", 0.0),))
    assert [(type(a), a.node) for a in _pair(prefer, held_by="")] == [(Start, "node2")]
    assert [(type(a), a.node) for a in _pair(prefer)] == [(Stop, "node1")]
    assert _pair(prefer, held_by="node2") == []
