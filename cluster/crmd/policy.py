"""What should run where: ``decide(state, config) -> Plan``, a pure function.

Role: the whole of crmd's judgement.  Input: a frozen
:class:`~cluster.crmd.state.ClusterState` (membership view, every node's
latest report, departed-node knowledge, commands in flight) and a
:class:`PolicyConfig`.  Output: a :class:`Plan` — the actions that are *safe
right now* (:class:`Start`, :class:`Stop`, :class:`Restart`, :class:`Fence`),
each with its reason, plus notes saying why anything else waits.  No I/O, no
clock (``state.now`` only), no logging; golden-tested in tests/scenarios/crmd.

Theory of operation.

*Who decides.*  Every crmd keeps the same table, so every crmd can compute the
plan (status tools show its notes), but only the designated coordinator acts:
the lowest-named member of the view that is not leaving
(:func:`designated_coordinator`).  The DC re-runs the policy on every change
and on a timer; the policy is level-triggered, so a lost message is repaired
by the next evaluation, and an action already under way (reported as
``starting``/``stopping``) is never ordered twice.

*Safety first.*  Stops are always safe.  A group may be started on a node only
when (1) no member reports it in any state but ``stopped`` and no start is in
flight; (2) every member that is not leaving has reported in the current
membership instance (the *barrier*: a node may have acted on a command of an
older instance that its older report does not show yet; leaving members are
exempt, they only ever shed groups); (3) every node outside the view that
*may hold* the group (its last trusted report shows it, it never reported
since it was seen, or a start was in flight to it) is fenced — with STONITH
configured we emit :class:`Fence` and wait; without, we take over anyway and
name the node in ``Plan.unprotected`` so the shell logs Heartbeat's
``No STONITH device configured.`` warnings.  A node never heard of (a cold start
alone) may hold anything, so it is fenced first, as Heartbeat does after
initdead and Pacemaker's ``startup-fencing``: only once this crmd has run for
initdead, so a node whose stack is still starting gets that long to join.
*Who fences* in a split: only the side that wants a departed node's groups,
so the holder of every group fences nobody; when both sides hold groups (a race, "deathmatch") the
``pcmk_delay_*`` delay on one side's device decides: the side without delay
powers its peer off, and a powered-off node fences nothing.  Without quorum (ccm's
``quorate=False``, only with three or more nodes) every member stops its
groups and nothing starts: Pacemaker's ``no-quorum-policy=stop``.

*Placement* of a group that runs nowhere: a node that asked for it with
hb_takeover, else its preferred (haresources) node, else the lowest-named
usable member; usable = member, not leaving, reported in this instance, fail
count for the group below the threshold.  Nodes in standby for the group are
used only when no other node is usable.

*Stickiness.*  A started group stays where it runs, except: another usable
node asked for it (hb_takeover); its node is in standby for it and another
node can take it; its node is banned for it; or ``auto_failback`` is ``on`` or
``legacy``, the preferred node is usable, and it (re)joined after the group
was started where it is (``report.joined > since``).  That last comparison
makes failback happen when the preferred node returns, not after an operator
moved the group away from it on purpose.  A move is only ever a stop: once
the group is stopped, placement above chooses the new node.

*Multi-active* (a partition healed and both sides run the group): keep it on
the preferred node if that is one of the holders, else on the lowest-named
one, and stop it everywhere else.  Once the others report it stopped, the
keeper announces its address again on its own (``rivals.py``): not a policy
action, the plan has nothing more to do.

*Failures.*  A ``failed`` group is restarted in place (:class:`Restart`, a stop
then a start on the same node) while its fail count there is below the
threshold; then it is stopped, which bans the node for it, and placement moves
it.  Restarts in place back off (:func:`restart_delay`: 0 s after the first
failure, then 1 s, 2 s, 4 s ... up to :data:`RESTART_BACKOFF_CAP`), counted
from when this crmd first saw the failure (``NodeInfo.failed_at``), so a
failure that repeats at once does not burn the threshold in milliseconds;
``Plan.recheck`` says when the plan changes by time alone.  A ban lasts as
long as the node's fail count: a cleanup or ``failure_timeout`` (the node
forgets the count, see :mod:`cluster.crmd.localnode`) lifts it.  A group
failed with no failure counted (the start-up probe found it partly running,
or a stop failed) is only stopped: it was not running properly anywhere, so
placement decides where it starts.  A leaving node stops its own groups; the
policy only waits for it.

*Operator intent* (:mod:`cluster.crmd.intent`, Pacemaker's semantics).
``maintenance-mode``: no action at all, only a note.  An unmanaged group is
left as it is.  A node in standby (crm_standby) or banned for a group
(``cli-ban-G-on-N``) may not run it: a group there is stopped even when no
other node can take it.  A move (``cli-prefer-G``) places the group on its
node whenever that node is usable, moving it there if it runs elsewhere, and
auto_failback does not pull it back home.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.config.haresources import ResourceGroup
from cluster.crmd.intent import ban_id, prefer_id
from cluster.crmd.state import ClusterState, GroupState, NodeInfo, standby_covers

__all__ = [
    "DEFAULT_FAILURE_THRESHOLD",
    "RESTART_BACKOFF_CAP",
    "Action",
    "Fence",
    "Plan",
    "PolicyConfig",
    "Restart",
    "Start",
    "Stop",
    "decide",
    "designated_coordinator",
    "restart_delay",
    "usable",
    "why_unusable",
]

#: Failures of a group on one node before the node is banned for it
#: (Pacemaker's migration-threshold; Heartbeat itself gave up at the first).
DEFAULT_FAILURE_THRESHOLD = 3

#: The longest wait (s) before a restart in place.
RESTART_BACKOFF_CAP = 30.0

_FAILBACK_MODES = ("on", "legacy")


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    groups: tuple[ResourceGroup, ...]
    nodes: tuple[str, ...]
    auto_failback: str = "legacy"
    stonith: bool = False
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    initdead: float = 0.0
    failure_timeout: float | None = None     # fail counts expire (ha.cf); None = never


@dataclass(frozen=True, slots=True)
class Start:
    group: str
    node: str
    reason: str
    taken_from: tuple[str, ...] = ()   # departed nodes that may have held it


@dataclass(frozen=True, slots=True)
class Stop:
    group: str
    node: str
    reason: str


@dataclass(frozen=True, slots=True)
class Restart:
    group: str
    node: str
    reason: str


@dataclass(frozen=True, slots=True)
class Fence:
    node: str
    reason: str


Action = Start | Stop | Restart | Fence


@dataclass(frozen=True, slots=True)
class Plan:
    dc: str | None
    instance: int | None
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()
    unprotected: tuple[str, ...] = ()   # taken over without STONITH
    recheck: float | None = None        # decide again then (``state.now``'s clock)


def restart_delay(fail_count: int) -> float:
    """Seconds between a group's ``fail_count``-th failure on a node and its
    restart there: 0, 1, 2, 4 ... capped at :data:`RESTART_BACKOFF_CAP`."""
    if fail_count <= 1:
        return 0.0
    return min(RESTART_BACKOFF_CAP, 2.0 ** min(fail_count - 2, 16))


def designated_coordinator(state: ClusterState) -> str | None:
    """The lowest-named member of the view that is not leaving."""
    for name in state.members:
        if not state.node(name).leaving:
            return name
    return None


def usable(state: ClusterState, config: PolicyConfig, name: str, key: str) -> bool:
    """May ``name`` be given group ``key`` now (standby aside)?"""
    return why_unusable(state, config, name, key) is None


def why_unusable(state: ClusterState, config: PolicyConfig, name: str, key: str) -> str | None:
    """Why ``name`` may not be given group ``key`` now (None: it may; standby aside)."""
    info = state.node(name)
    view = state.view
    if view is None or name not in view.members:
        return "offline"
    report = info.trusted_report
    if report is None or not info.current(view.instance):
        return f"waiting for its report in instance {view.instance}"
    if report.leaving:
        return "leaving"
    refused = _refused_by_intent(state, name, key)
    if refused is not None:
        return refused
    count = report.group(key).fail_count
    if count >= config.failure_threshold:
        return f"banned (fail count {count} >= {config.failure_threshold})"
    return None


def _refused_by_intent(state: ClusterState, name: str, key: str) -> str | None:
    intents = state.intents
    if name in intents.standby:
        return "in standby (crm_standby)"
    if intents.banned(key, name):
        return f"banned by {ban_id(key, name)} (crm_resource --ban or --move)"
    return None


def _in_standby_for(info: NodeInfo, group: ResourceGroup) -> bool:
    return bool(info.standby) and standby_covers(info.standby, info.name, group.node)


@dataclass
class _Planner:
    state: ClusterState
    config: PolicyConfig
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    fenced: set[str] = field(default_factory=set)
    recheck: float | None = None

    @property
    def instance(self) -> int:
        assert self.state.view is not None
        return self.state.view.instance

    def holders(self, key: str) -> dict[str, GroupState]:
        """Members holding ``key`` in any state but stopped (in-flight starts included)."""
        found: dict[str, GroupState] = {}
        for name in self.state.members:
            report = self.state.node(name).trusted_report
            if report is not None and report.group(key).state.active:
                found[name] = report.group(key).state
            elif (key, name) in self.state.in_flight:
                found[name] = GroupState.STARTING
        return found

    def declines(self, name: str, group: ResourceGroup) -> bool:
        """Is ``name`` in standby for ``group``?  When every usable node is, the one
        whose standby is oldest (lowest ``standby_seq``, then name) takes it: the
        latest hb_standby wins, as in Heartbeat, and two standbys never ping-pong."""
        if not _in_standby_for(self.state.node(name), group):
            return False
        cands = self.candidates(group.key)
        if any(not _in_standby_for(self.state.node(n), group) for n in cands):
            return True
        oldest = min(cands, key=lambda n: (self.state.node(n).standby_seq, n), default=None)
        return name != oldest

    def candidates(self, key: str, exclude: str | None = None) -> list[str]:
        return [name for name in self.state.members
                if name != exclude and usable(self.state, self.config, name, key)]

    # -- no quorum ----------------------------------------------------------------------

    def no_quorum(self) -> None:
        self.notes.append(f"partition WITHOUT quorum (instance {self.instance}): "
                          "stopping every group, starting nothing")
        for group in self.config.groups:
            for name in self.holders(group.key):
                info = self.state.node(name)
                reported = info.state_of(group.key)
                if reported is None or reported in (GroupState.STOPPED, GroupState.STOPPING):
                    continue   # nothing reported yet, or already on its way down
                if info.leaving:
                    continue
                self.actions.append(Stop(group.key, name, "no quorum in instance "
                                         f"{self.instance} (no-quorum-policy stop)"))

    # -- one group ----------------------------------------------------------------------

    def group(self, group: ResourceGroup) -> None:
        if group.key in self.state.intents.unmanaged:
            self.notes.append(f"{group.key} is unmanaged (crm_resource --unmanage): "
                              "left as it is")
            return
        holders = self.holders(group.key)
        if not holders:
            self.place(group)
        elif len(holders) > 1:
            self.multi_active(group, holders)
        else:
            ((name, status),) = holders.items()
            self.single(group, name, status)

    def multi_active(self, group: ResourceGroup, holders: dict[str, GroupState]) -> None:
        alive = sorted(n for n, s in holders.items()
                       if s in (GroupState.STARTED, GroupState.STARTING))
        keep = group.node if group.node in alive else (alive[0] if alive else None)
        where = ", ".join(f"{n} ({s.value})" for n, s in sorted(holders.items()))
        self.notes.append(f"{group.key} is active on several nodes: {where}; "
                          f"keeping it on {keep or 'none of them'}")
        for name, status in sorted(holders.items()):
            info = self.state.node(name)
            if name == keep or status is GroupState.STOPPING or info.leaving:
                continue
            if info.state_of(group.key) in (None, GroupState.STOPPED):
                continue   # only an in-flight start: wait for its report
            why = (f"multi-active: also running on {keep}, its "
                   f"{'preferred node' if keep == group.node else 'lowest-named holder'}"
                   if keep else "multi-active and failed")
            self.actions.append(Stop(group.key, name, why))

    def single(self, group: ResourceGroup, name: str, status: GroupState) -> None:
        info = self.state.node(name)
        if info.leaving:
            self.notes.append(f"{group.key}: {name} is leaving and stops it itself")
            return
        if status is GroupState.FAILED:
            self.failed(group, name)
        elif status is GroupState.STARTED:
            reason = self.move_reason(group, name)
            if reason is not None:
                self.actions.append(Stop(group.key, name, reason))
        else:
            self.notes.append(f"{group.key}: waiting for {name} ({status.value})")

    def failed(self, group: ResourceGroup, name: str) -> None:
        info = self.state.node(name)
        report = info.trusted_report
        count = report.group(group.key).fail_count if report is not None else 0
        limit = self.config.failure_threshold
        refused = _refused_by_intent(self.state, name, group.key)
        if refused is not None:
            self.actions.append(Stop(group.key, name, f"failed on {name}, which is {refused}"))
        elif count == 0:
            self.actions.append(Stop(group.key, name, f"partially running or in an unknown "
                                     f"state on {name} (no failure counted: a probe, or a "
                                     "failed stop): stopping it before it may start anywhere"))
        elif count >= limit:
            self.actions.append(Stop(group.key, name, f"failed on {name}: fail count {count} "
                                     f"reached the threshold {limit}; banning {name} for it"))
        elif self.declines(name, group) and self.candidates(group.key, exclude=name):
            self.actions.append(Stop(group.key, name, f"failed on {name}, which is in standby"))
        else:
            delay = restart_delay(count)
            due = info.failed_at.get(group.key, float("-inf")) + delay
            if self.state.now < due:
                self.notes.append(f"{group.key}: failed on {name} (fail count {count} of "
                                  f"{limit}): restarting it there {delay:g} s after the "
                                  "failure (restarts back off)")
                self.recheck = due if self.recheck is None else min(self.recheck, due)
                return
            self.actions.append(Restart(group.key, name, f"failed on {name} (fail count "
                                        f"{count} of {limit}): recovering in place"))

    def move_reason(self, group: ResourceGroup, name: str) -> str | None:
        """Why a group started on ``name`` should move away, or None to stay."""
        key = group.key
        info = self.state.node(name)
        report = info.trusted_report
        assert report is not None
        others = self.candidates(key, exclude=name)
        willing = [n for n in others if not self.declines(n, group)]
        refused = _refused_by_intent(self.state, name, key)
        if refused is not None:
            return f"{name} is {refused}"
        preferred = self.state.intents.preferred(key)
        if preferred is not None and preferred != name and preferred in willing:
            return f"{prefer_id(key)}: crm_resource --move to {preferred}"
        if report.group(key).fail_count >= self.config.failure_threshold and others:
            return f"{name} is banned for it (fail count {report.group(key).fail_count})"
        wanting = [n for n in willing if key in self.state.node(n).wants]
        if wanting:
            return f"hb_takeover: {wanting[0]} takes it over"
        if self.declines(name, group) and willing:
            return f"{name} is in standby [{info.standby}]; moving it to another node"
        home = group.node
        if preferred == name:
            return None
        if (self.config.auto_failback in _FAILBACK_MODES and home != name and home in willing):
            home_report = self.state.node(home).trusted_report
            since = report.group(key).since
            if home_report is not None and home_report.joined > since:
                return (f"auto_failback {self.config.auto_failback}: preferred node {home} "
                        f"joined in instance {home_report.joined}, after the group started "
                        f"on {name} (instance {since})")
        return None

    def place(self, group: ResourceGroup) -> None:
        key = group.key
        waiting = [n for n in self.state.members
                   if not self.state.node(n).leaving
                   and not self.state.node(n).current(self.instance)]
        if waiting:
            self.notes.append(f"{key}: not starting it yet: waiting for the resource reports "
                              f"of {', '.join(waiting)} in instance {self.instance}")
            return
        target, why = self.choose(group)
        if target is None:
            self.notes.append(f"{key} cannot run anywhere: {why}")
            return
        blockers = self.departed_holders(key)
        unheard = [n for n in blockers if self.state.node(n).trusted_report is None]
        if (unheard and self.config.stonith
                and self.state.now - self.state.started < self.config.initdead):
            self.notes.append(f"{key}: not starting it on {target}: {', '.join(unheard)} "
                              f"not heard from since this crmd started; fencing waits "
                              f"initdead ({self.config.initdead:g} s) for them to join")
            return
        if blockers and self.config.stonith:
            for name in blockers:
                if name not in self.fenced:
                    self.fenced.add(name)
                    self.actions.append(Fence(name, f"{name} is gone and may hold {key}"))
            self.notes.append(f"{key}: not starting it on {target}: waiting for STONITH of "
                              f"{', '.join(blockers)}, which may hold it")
            return
        for name in blockers:
            if name not in self.unprotected:
                self.unprotected.append(name)
        self.actions.append(Start(key, target, why, tuple(blockers)))

    def departed_holders(self, key: str) -> list[str]:
        view = self.state.view
        assert view is not None
        names = sorted(set(self.config.nodes) | set(self.state.nodes))
        return [n for n in names if n not in view.members
                and self.state.node(n).may_hold(key, (key, n) in self.state.in_flight)]

    def choose(self, group: ResourceGroup) -> tuple[str | None, str]:
        key, home = group.key, group.node
        cands = self.candidates(key)
        if not cands:
            why = "; ".join(f"{n} {why_unusable(self.state, self.config, n, key)}"
                            for n in sorted(set(self.config.nodes) | set(self.state.members)))
            return None, why or "no nodes"
        willing = [n for n in cands if not self.declines(n, group)]
        if all(_in_standby_for(self.state.node(n), group) for n in cands):
            first = "" if len(cands) == 1 else f"; {willing[0]} went standby first"
            return willing[0], "every usable node is in standby" + first
        preferred = self.state.intents.preferred(key)
        if preferred is not None and preferred in willing:
            return preferred, f"{prefer_id(key)} (crm_resource --move)"
        wanting = [n for n in willing if key in self.state.node(n).wants]
        if wanting:
            return wanting[0], f"hb_takeover requested by {wanting[0]}"
        if home in willing:
            return home, "its preferred node"
        reason = why_unusable(self.state, self.config, home, key) or "in standby"
        return willing[0], f"preferred node {home} is {reason}; lowest-named usable node"


def decide(state: ClusterState, config: PolicyConfig) -> Plan:
    """The actions that are safe right now, and why everything else waits."""
    view = state.view
    if view is None:
        return Plan(None, None, notes=("no formed membership view yet: deciding nothing",))
    dc = designated_coordinator(state)
    planner = _Planner(state, config)
    if dc is None:
        planner.notes.append("no designated coordinator: every member is leaving")
    if state.intents.maintenance:
        planner.notes.append("maintenance-mode: resource management is disabled; "
                             "nothing is started, stopped or monitored")
    elif not view.quorate:
        planner.no_quorum()
    else:
        for group in config.groups:
            planner.group(group)
    return Plan(dc, view.instance, tuple(planner.actions), tuple(planner.notes),
                tuple(planner.unprotected), planner.recheck)

