"""The DC's bookkeeping: turn plans into commands, once, and notice when they land.

Role: a sans-I/O core used only while this node is the designated
coordinator.  :meth:`Coordinator.dispatch` takes the latest
:class:`~cluster.crmd.policy.Plan` and returns the :class:`Order` values to
send now; :meth:`Coordinator.on_report` folds every node's report and says
which takeovers completed.  The service sends the orders (to itself directly,
to peers through hbcomm) and logs.

Theory of operation.  The policy is level-triggered: it asks for the same
action on every evaluation until the reports show it happened.  So an action
is sent once, and again only if ``resend_after`` seconds pass without the
target node's report changing (a lost message, or a command that arrived in
another membership instance and was ignored).  An action counts as *landed*
as soon as the node's report for that group differs from what it was when we
sent it (state or fail count), or the node reports from a newer instance
(it saw the command's instance end, so whatever it did is in its report).
Starts and restarts that have not landed are *in flight*: the policy treats
them as holders, so it never starts a group twice while a command travels,
and a node that departs with a start in flight may hold the group.

Takeovers: a start whose plan names departed nodes that may have held the
group opens a takeover episode for each of them ("Resources being acquired
from X."); the episode completes when every such group is reported started
("mach_down takeover complete for node X.").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.crmd.policy import Fence, Plan, Restart, Start, Stop
from cluster.crmd.state import ClusterState, GroupState, NodeReport

__all__ = ["Coordinator", "Dispatch", "Order"]

#: Seconds before an action whose node's report did not change is sent again.
RESEND_AFTER = 2.0


@dataclass(frozen=True, slots=True)
class Order:
    node: str
    group: str
    action: str           # start | stop | restart
    instance: int
    serial: int
    reason: str


@dataclass(slots=True)
class _Sent:
    action: str
    instance: int
    serial: int
    at: float
    baseline: tuple[GroupState | None, int]
    wanted: bool = True


@dataclass(frozen=True, slots=True)
class Dispatch:
    orders: tuple[Order, ...] = ()
    fences: tuple[Fence, ...] = ()
    acquiring: tuple[str, ...] = ()      # departed nodes whose groups we start taking over


@dataclass
class Coordinator:
    resend_after: float = RESEND_AFTER
    _sent: dict[tuple[str, str], _Sent] = field(default_factory=dict)
    _fenced_at: dict[str, float] = field(default_factory=dict)
    _takeovers: dict[str, set[str]] = field(default_factory=dict)
    _serial: int = 0

    def in_flight(self) -> frozenset[tuple[str, str]]:
        """(group, node) pairs with a start or restart that has not landed."""
        return frozenset(key for key, sent in self._sent.items() if sent.action != "stop")

    def dispatch(self, plan: Plan, state: ClusterState) -> Dispatch:
        now = state.now
        orders: list[Order] = []
        fences: list[Fence] = []
        acquiring: list[str] = []
        wanted: set[tuple[str, str]] = set()
        for action in plan.actions:
            if isinstance(action, Fence):
                last = self._fenced_at.get(action.node)
                if last is None or now - last >= self.resend_after:
                    self._fenced_at[action.node] = now
                    fences.append(action)
                continue
            verb = _VERBS[type(action)]
            key = (action.group, action.node)
            wanted.add(key)
            sent = self._sent.get(key)
            if sent is not None and sent.action == verb and now - sent.at < self.resend_after:
                continue
            assert plan.instance is not None
            self._serial += 1
            info = state.node(action.node)
            report = info.trusted_report
            baseline = (info.state_of(action.group),
                        report.group(action.group).fail_count if report is not None else 0)
            self._sent[key] = _Sent(verb, plan.instance, self._serial, now, baseline)
            orders.append(Order(action.node, action.group, verb, plan.instance, self._serial,
                                action.reason))
            if isinstance(action, Start):
                for node in action.taken_from:
                    if node not in self._takeovers:
                        acquiring.append(node)
                    self._takeovers.setdefault(node, set()).add(action.group)
        for key, sent in self._sent.items():
            sent.wanted = key in wanted
        return Dispatch(tuple(orders), tuple(fences), tuple(acquiring))

    def on_report(self, node: str, report: NodeReport, now: float) -> list[str]:
        """Fold a node's report; return departed nodes whose takeover just completed."""
        for (group, target), sent in list(self._sent.items()):
            if target != node:
                continue
            status = report.group(group)
            changed = (status.state, status.fail_count) != sent.baseline
            stale = not sent.wanted and now - sent.at >= self.resend_after
            if changed or report.instance > sent.instance or stale:
                del self._sent[(group, target)]
        done: list[str] = []
        started = {key for key, status in report.groups.items()
                   if status.state is GroupState.STARTED}
        for departed, groups in list(self._takeovers.items()):
            groups -= started
            if not groups:
                del self._takeovers[departed]
                done.append(departed)
        return done

    def on_fenced(self, node: str) -> None:
        self._fenced_at.pop(node, None)

    def forget_takeovers(self, node: str) -> None:
        """``node`` rejoined: an open takeover episode from it is over."""
        self._takeovers.pop(node, None)

    def reset(self) -> None:
        """We stopped being the DC: the next DC starts from the reports alone."""
        self._sent.clear()
        self._fenced_at.clear()
        self._takeovers.clear()


_VERBS: dict[type, str] = {Start: "start", Stop: "stop", Restart: "restart"}
