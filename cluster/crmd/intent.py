"""The operator's intent: standby, moves, bans, maintenance mode, unmanaged groups.

Role: a sans-I/O core.  :class:`IntentStore` holds every
:class:`~cluster.bus.messages.crmd.IntentEntry` this crmd knows, takes local
changes (:meth:`IntentStore.write`) and peers' copies
(:meth:`IntentStore.merge`), and :meth:`IntentStore.resolve` turns them into
the :class:`Intents` the policy obeys right now.  The service keeps the
entries in ``crmd.intent`` in the state directory (so they survive a stack
restart and a reboot, unlike hb_standby's run-directory memory) and sends
them to every node.

Agreement.  Each entry is identified by (kind, group, node) and carries a
version: the wall-clock time of the change, raised above any version this
node has already seen, so a change made here is always newer than what made
it look the way it does.  For each identity **the newest version wins**,
ties to the higher origin node name; a cleared entry stays as a tombstone so
an older value cannot come back.  The rule is commutative and idempotent:
after a partition heals, every node ends with the same entries whatever the
order the copies arrive in; when both sides changed the same thing, the
later change (by the clocks of the nodes that made them) holds.

Lifetimes.  ``--lifetime`` sets ``expires`` (wall clock): past it, a move or
ban no longer counts (crm_status stops showing it).  A standby with
lifetime ``reboot`` holds while its node keeps the boot id it had when it
was set (a new one is drawn whenever that node's stack starts); ``forever``
holds until cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cluster.bus.messages.crmd import Constraint, IntentEntry

__all__ = ["KINDS", "NO_INTENTS", "IntentStore", "Intents", "ban_id", "prefer_id"]

KINDS = ("maintenance", "standby", "ban", "prefer", "unmanaged")

Identity = tuple[str, str, str]


def ban_id(group: str, node: str) -> str:
    return f"cli-ban-{group}-on-{node}"


def prefer_id(group: str) -> str:
    return f"cli-prefer-{group}"


@dataclass(frozen=True, slots=True)
class Intents:
    """What the operator asked for, as it holds right now (the policy's input)."""

    maintenance: bool = False
    standby: frozenset[str] = frozenset()
    unmanaged: frozenset[str] = frozenset()
    constraints: tuple[Constraint, ...] = ()
    next_expiry: float | None = field(default=None, compare=False)

    def banned(self, group: str, node: str) -> bool:
        return any(c.kind == "ban" and c.group == group and c.node == node
                   for c in self.constraints)

    def preferred(self, group: str) -> str | None:
        for c in self.constraints:
            if c.kind == "prefer" and c.group == group:
                return c.node
        return None


NO_INTENTS = Intents()


def _identity(entry: IntentEntry) -> Identity:
    return entry.kind, entry.group, entry.node


def _rank(e: IntentEntry) -> tuple[float, str, str, float, str]:
    """Newest first, then the higher origin; the rest only makes the order total."""
    return e.version, e.origin, e.value, e.expires, e.boot


def _newer(a: IntentEntry, b: IntentEntry) -> bool:
    return _rank(a) > _rank(b)


class IntentStore:
    def __init__(self, entries: Iterable[IntentEntry] = ()) -> None:
        self._entries: dict[Identity, IntentEntry] = {}
        self.merge(entries)

    def entries(self) -> tuple[IntentEntry, ...]:
        return tuple(self._entries[k] for k in sorted(self._entries))

    def get(self, kind: str, group: str = "", node: str = "") -> IntentEntry | None:
        entry = self._entries.get((kind, group, node))
        return entry if entry is not None and entry.value else None

    def merge(self, entries: Iterable[IntentEntry]) -> bool:
        """Fold entries in (newest wins); True when anything changed."""
        changed = False
        for entry in entries:
            if entry.kind not in KINDS:
                continue
            mine = self._entries.get(_identity(entry))
            if mine is None or _newer(entry, mine):
                self._entries[_identity(entry)] = entry
                changed = True
        return changed

    def behind(self, entries: Iterable[IntentEntry]) -> bool:
        """Does a peer holding ``entries`` lack something we know (or hold it older)?"""
        theirs = {_identity(e): e for e in entries}
        return any(_identity(e) not in theirs or _newer(e, theirs[_identity(e)])
                   for e in self._entries.values())

    def write(self, kind: str, group: str, node: str, value: str, *, now: float,
              origin: str, expires: float = 0.0, boot: str = "") -> IntentEntry:
        """A local change, newer than every version seen so far."""
        version = max([now, *(e.version + 0.001 for e in self._entries.values())])
        entry = IntentEntry(kind, group, node, value, version, origin, expires, boot)
        self._entries[(kind, group, node)] = entry
        return entry

    def resolve(self, now: float, boots: Mapping[str, str]) -> Intents:
        """The intents that hold at wall-clock ``now``, given each node's boot id
        (a node missing from ``boots`` keeps its reboot-lifetime standby)."""
        maintenance = False
        standby: set[str] = set()
        unmanaged: set[str] = set()
        constraints: list[Constraint] = []
        expiries: list[float] = []
        for entry in self.entries():
            if not entry.value:
                continue
            if entry.expires:
                if entry.expires <= now:
                    continue
                expiries.append(entry.expires)
            if entry.kind == "maintenance":
                maintenance = True
            elif entry.kind == "standby":
                if not entry.boot or boots.get(entry.node, entry.boot) == entry.boot:
                    standby.add(entry.node)
            elif entry.kind == "unmanaged":
                unmanaged.add(entry.group)
            elif entry.kind == "ban":
                constraints.append(Constraint(ban_id(entry.group, entry.node), "ban",
                                              entry.group, entry.node, entry.expires))
            elif entry.kind == "prefer":
                constraints.append(Constraint(prefer_id(entry.group), "prefer", entry.group,
                                              entry.value, entry.expires))
        return Intents(maintenance, frozenset(standby), frozenset(unmanaged),
                       tuple(constraints), min(expiries, default=None))
