"""When a group that ran on several nodes is ours alone again: announce it anew.

Role: a sans-I/O core of crmd's shell.  Input: the cluster table
(:class:`~cluster.crmd.state.ClusterState`, our own report included) after
every report and every evaluation.  Output: the groups this node keeps whose other
holders have all released them since the last call, with those holders; the
shell re-announces those groups' service addresses (``reannounce``, see
:mod:`cluster.crmd.agents.protocol`).

Why.  Without STONITH a partition lets both sides run a group; each start
sends gratuitous ARP, so the LAN follows whichever side started last.  When
the partition heals the policy keeps the group on one node and stops it on
the others (``policy._Planner.multi_active``), but nothing the keeper did
tells the LAN: a client whose ARP entry points at a node that has just
released the address keeps sending there until the entry goes stale (about
10 s).  So the keeper announces again, once the last other holder reports the
group stopped: not before, or that node's own later frames could still win.

Theory of operation.  While our group is ``started``, every other node whose
trusted report shows it in any state but ``stopped`` is a *rival*.  A rival
is released when its report says ``stopped`` or STONITH confirmed it off; a
node whose report we cannot trust (it rejoined and has not reported yet)
still counts, so a rival that departs holding the group keeps us waiting
until it is back and says so, or is fenced.  When the last rival is released
the group is returned once; a released rival that takes the group up again
before then is waited for again.  If our own group stops being ``started`` (we
were not the keeper), its rivals are forgotten.
"""

from __future__ import annotations

from cluster.crmd.state import ClusterState, GroupState

__all__ = ["Rivals"]


class Rivals:
    """Other nodes seen holding the groups this node runs; see the module doc."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._rivals: dict[str, set[str]] = {}

    def update(self, state: ClusterState) -> list[tuple[str, tuple[str, ...]]]:
        """(group, its rivals) for each group whose every rival has released it
        since the last call."""
        own = state.node(self._node).trusted_report
        released: list[tuple[str, tuple[str, ...]]] = []
        for key in sorted(set(self._rivals) | set(own.groups if own is not None else ())):
            if own is None or own.group(key).state is not GroupState.STARTED:
                self._rivals.pop(key, None)
                continue
            rivals = self._rivals.get(key, set()) | self._holders(state, key)
            if any(not self._released(state, name, key) for name in rivals):
                self._rivals[key] = rivals
            elif self._rivals.pop(key, None):
                released.append((key, tuple(sorted(rivals))))
        return released

    def _holders(self, state: ClusterState, key: str) -> set[str]:
        found = set()
        for name, info in state.nodes.items():
            report = info.trusted_report
            if name != self._node and report is not None and report.group(key).state.active:
                found.add(name)
        return found

    @staticmethod
    def _released(state: ClusterState, name: str, key: str) -> bool:
        info = state.node(name)
        report = info.trusted_report
        return info.fenced or (report is not None and not report.group(key).state.active)
