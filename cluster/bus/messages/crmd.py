"""Messages of crmd, the resource manager (``crmd.ctl``, ``crmd.pub``, peers).

Cross-node messages travel through hbcomm as cluster messages of type
``crmd`` (:data:`MTYPE`) whose body is one encoded message of this module:

* :class:`NodeResources` — every node broadcasts its own report (what it
  holds, fail counts, leaving/standby, takeover wishes) on every change and
  whenever a new view forms.  Reports are the only source of resource state.
* :class:`Command` — the designated coordinator (DC) tells one node to start,
  stop or restart one group; it carries the membership instance it was
  decided in and the node ignores it in any other instance.
* :class:`CleanupRequested` — forget fail counts and failed actions on every
  node (``crm_resource --cleanup``).
* :class:`IntentSync` — the operator's intent (:mod:`cluster.crmd.intent`):
  sent on every change, when a node joins and with every report refresh.

Local requests on ``crmd.ctl``: :class:`GetStatus` (answered at once with
:class:`StatusResult`), :class:`Standby` and :class:`Takeover` (answered once
the move completed or timed out), :class:`ClearStandby`,
:class:`CleanupResource`, and the operator's intent requests of
``crm_resource``, ``crm_standby`` and ``crm_attribute`` (:class:`Constrain`,
:class:`SetStandby`, :class:`SetMaintenance`, :class:`SetManaged`,
:class:`RestartGroup`, :class:`WhyGroup`) and ``crm_simulate``'s
:class:`Simulate` (answered with :class:`SimulationResult`).  Events on
``crmd.pub``: topic ``group`` carries :class:`GroupStateChanged` for every
local group state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.bus.catalogue import message

#: hbcomm cluster-message type of crmd's cross-node messages.
MTYPE = "crmd"

#: Values of ``Standby.which`` / ``Takeover.which`` / ``NodeResources.standby``.
WHICH = ("all", "local", "foreign", "failback")


# --- cross-node -----------------------------------------------------------------------


@message
@dataclass(frozen=True, slots=True)
class GroupReport:
    """One group as its reporting node holds it.

    ``state``: stopped | starting | started | stopping | failed.  ``resources``
    holds one word per resource in haresources order (started | stopped |
    failed | unknown).  ``since`` is the membership instance in which the group
    was started here (0: adopted before the first view).
    """

    key: str
    state: str
    fail_count: int
    since: int
    resources: tuple[str, ...]


@message
@dataclass(frozen=True, slots=True)
class FailedAction:
    """One failed operation, kept (and reported) until a cleanup clears it."""

    node: str
    group: str
    resource: str       # the resource's id (ResourceSpec.id)
    agent: str
    action: str         # start | stop | monitor | probe
    interval: float     # seconds; 0 for one-shot operations
    outcome: str        # the executor's outcome text: "not running", "failed", ...
    rc: int | None
    detail: str
    when: float         # wall-clock time (time.time()) of the failure
    duration: float


@message
@dataclass(frozen=True, slots=True)
class LastChange:
    """The newest change of configuration or intent, for crm_status's "Last change".

    ``when`` is wall-clock time; ``tool`` the command or daemon that made it
    (hb_standby, crm_resource, cluster-mcp for the configuration it loaded);
    ``node`` where it was made.
    """

    when: float
    tool: str
    node: str


@message
@dataclass(frozen=True, slots=True)
class RespawnMemory:
    """What crmd keeps across its own respawns (the file ``crmd.state`` in the
    run directory; never sent on the bus).  See :mod:`cluster.crmd.memory`."""

    standby: str = ""
    standby_seq: int = 0
    wants: tuple[str, ...] = ()
    fail_counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[FailedAction, ...] = ()
    boot: str = ""


@message
@dataclass(frozen=True, slots=True)
class IntentEntry:
    """One piece of operator intent; see :mod:`cluster.crmd.intent`.

    Identified by (``kind``, ``group``, ``node``): kind maintenance (neither),
    standby (node), ban (group, node), prefer (group; ``value`` is the node),
    unmanaged (group).  ``value`` "" clears it (kept, so an older value never
    comes back).  ``version``: wall-clock time of the change, never below a
    version already seen; ties go to the higher ``origin`` name.  ``expires``:
    wall-clock end of a ``--lifetime`` (0: never); ``boot``: a standby with
    lifetime reboot holds only while the node runs with this boot id.
    """

    kind: str
    group: str
    node: str
    value: str
    version: float
    origin: str
    expires: float = 0.0
    boot: str = ""


@message
@dataclass(frozen=True, slots=True)
class IntentSync:
    """Every intent entry the sender knows (cross-node), or the state-dir file."""

    entries: tuple[IntentEntry, ...]


@message
@dataclass(frozen=True, slots=True)
class NodeResources:
    """A node's report of itself, broadcast to every node.

    ``instance`` is the membership instance the sender was in; ``joined`` the
    first instance its crmd saw itself a member of.  ``standby`` is "" or one
    of local | foreign | all (the groups it refuses, from its point of view);
    ``wants`` the group keys it asked to take over (hb_takeover).
    ``standby_seq`` orders standby requests cluster-wide (one more than the
    highest the sender had seen when it went standby): when every node is in
    standby for a group, the most recent request wins, as in Heartbeat.
    ``last_change`` is the newest change made through this node (the newest
    over all reports is the cluster's "Last change").
    """

    node: str
    seq: int
    instance: int
    joined: int
    leaving: bool
    standby: str
    wants: tuple[str, ...]
    groups: tuple[GroupReport, ...]
    failures: tuple[FailedAction, ...]
    standby_seq: int = 0
    last_change: LastChange | None = None
    boot: str = ""


@message
@dataclass(frozen=True, slots=True)
class Command:
    """From the DC to one node: ``action`` (start | stop | restart) ``group``."""

    instance: int
    group: str
    action: str
    serial: int


@message
@dataclass(frozen=True, slots=True)
class CleanupRequested:
    """Forget fail counts and failed actions of ``target`` on every node.

    ``target`` is a group key, a resource token or id, or "" for everything;
    ``node`` the node to clean up ("" = every node); ``refresh`` probes every
    such group again, failed or not.
    """

    target: str
    node: str = ""
    refresh: bool = False


# --- local requests -------------------------------------------------------------------


@message
@dataclass(frozen=True, slots=True)
class GetStatus:
    """Ask for the cluster status as this node knows it; reply StatusResult."""


@message
@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    state: str          # online | offline | standby
    member: bool
    leaving: bool
    standby: str        # "" | local | foreign | all
    unclean: bool       # offline and may still hold resources (not fenced)


@message
@dataclass(frozen=True, slots=True)
class ResourceState:
    """One resource on one node (two entries when a group runs twice)."""

    id: str
    token: str
    group: str
    agent: str
    state: str          # started | stopped | failed | starting | stopping
    node: str | None


@message
@dataclass(frozen=True, slots=True)
class Constraint:
    """A move or ban, named as Pacemaker names it (cli-ban-G-on-N, cli-prefer-G)."""

    id: str
    kind: str           # ban | prefer
    group: str
    node: str
    expires: float      # wall-clock; 0 = until cleared


@message
@dataclass(frozen=True, slots=True)
class FailCount:
    """A group's fail count on one node (crm_mon's Migration Summary line).

    ``banned``: the count reached ``threshold``, so the group may not run on
    ``node``.  ``last_failure`` is the wall-clock time of the newest failed
    action there (0: not known, e.g. cleared from the list).  ``expires``:
    when ``failure_timeout`` forgets the count (wall clock; None: never).
    """

    node: str
    group: str
    count: int
    threshold: int
    banned: bool
    last_failure: float
    expires: float | None


@message
@dataclass(frozen=True, slots=True)
class StatusResult:
    local: str
    dc: str | None
    instance: int | None
    members: tuple[str, ...]
    quorate: bool
    formed: bool
    stonith: bool
    nodes: tuple[NodeState, ...]
    groups: tuple[str, ...]           # group keys in haresources order
    resources: tuple[ResourceState, ...]
    failed_actions: tuple[FailedAction, ...]
    notices: tuple[str, ...]          # why something cannot run, for people
    last_change: LastChange | None = None
    fail_counts: tuple[FailCount, ...] = ()
    failure_threshold: int = 0        # fail count at which a group leaves a node
    maintenance: bool = False         # maintenance-mode: nothing started or stopped
    unmanaged: tuple[str, ...] = ()   # group keys crmd leaves alone (crm_resource --unmanage)
    constraints: tuple[Constraint, ...] = ()   # crm_resource --move / --ban
    pending: tuple[str, ...] = ()     # actions planned or under way (crm_resource --wait)


@message
@dataclass(frozen=True, slots=True)
class Standby:
    """hb_standby: give up ``which`` groups (this node's point of view).

    Answered with OkResult once they run elsewhere, or ErrorResult("timeout"
    | "refused" | "no_peer") with the reason.
    """

    which: str = "all"
    timeout: float = 120.0
    client: str = ""    # the asking tool, for "Last change ... by TOOL"


@message
@dataclass(frozen=True, slots=True)
class Takeover:
    """hb_takeover: bring ``which`` groups (this node's point of view) here."""

    which: str = "all"
    timeout: float = 120.0
    client: str = ""


@message
@dataclass(frozen=True, slots=True)
class ClearStandby:
    """Lift this node's standby (every class) without moving anything; OkResult.

    Groups come back only through placement (a stopped group, auto_failback)
    or an explicit Takeover (Pacemaker's ``crm_standby -D``).
    """

    client: str = ""


@message
@dataclass(frozen=True, slots=True)
class CleanupResource:
    """crm_resource --cleanup: forget failures of a group or resource ("" = all)
    on ``node`` ("" = every node) and probe again; ``refresh`` probes every
    such group, failed or not (``--refresh``)."""

    target: str = ""
    node: str = ""
    refresh: bool = False
    client: str = ""


@message
@dataclass(frozen=True, slots=True)
class Constrain:
    """crm_resource --move / --ban / --clear of ``target`` (group key or resource).

    move: prefer ``node`` (or, without one, ban the node it runs on); ban:
    keep it off ``node`` (default: where it runs); clear: remove moves and bans
    (only those on ``node`` when given).  ``lifetime`` in seconds, 0 = until
    cleared.  OkResult's detail is what the tool prints.
    """

    action: str
    target: str
    node: str = ""
    lifetime: float = 0.0


@message
@dataclass(frozen=True, slots=True)
class SetStandby:
    """crm_standby -N node -v on|off -l forever|reboot."""

    node: str
    on: bool
    lifetime: str = "forever"


@message
@dataclass(frozen=True, slots=True)
class SetMaintenance:
    """crm_attribute -n maintenance-mode -v true|false (--delete = false)."""

    on: bool


@message
@dataclass(frozen=True, slots=True)
class SetManaged:
    """crm_resource --manage / --unmanage of ``target``."""

    target: str
    managed: bool


@message
@dataclass(frozen=True, slots=True)
class RestartGroup:
    """crm_resource --restart: stop and start ``target``'s group where it runs."""

    target: str


@message
@dataclass(frozen=True, slots=True)
class WhyGroup:
    """crm_resource --why: OkResult whose detail says why it runs where it does."""

    target: str


@message
@dataclass(frozen=True, slots=True)
class Simulate:
    """crm_simulate: what the DC would do if ``node_fail`` nodes died and
    ``standby`` nodes went standby, from the live state; nothing is done."""

    node_fail: tuple[str, ...] = ()
    standby: tuple[str, ...] = ()


@message
@dataclass(frozen=True, slots=True)
class SimulatedAction:
    action: str         # fence | stop | start | restart
    group: str          # "" for fence
    node: str
    reason: str


@message
@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Placements (group key -> node, "" = nowhere) before and after, and the actions
    in the order the DC would take them; ``notes`` say why something cannot run."""

    before: dict[str, str]
    after: dict[str, str]
    actions: tuple[SimulatedAction, ...]
    notes: tuple[str, ...]


# --- events ---------------------------------------------------------------------------


@message
@dataclass(frozen=True, slots=True)
class GroupStateChanged:
    """A local group changed state (topic ``group`` on ``crmd.pub``)."""

    node: str
    group: str
    state: str
    previous: str
    instance: int
