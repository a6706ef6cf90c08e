"""The cluster-wide timeline, kept across restarts: merged, de-duplicated, bounded, on disk.

Every dashboard infers events from the pictures it sees (:mod:`cluster.web.timeline`)
and hears fencing from its own stonithd; each new entry is broadcast to the
other dashboards, and a dashboard that starts, or sees a peer come, asks the
peers for their recent entries.  So a dashboard that was down during a
failover, or a node that joined later, still shows it.  This is simpler and
sturdier than teaching crmd, ccm and stonithd to keep a history: it needs no
new daemon state and nothing in their loops, and any one surviving dashboard
carries the history.

Two dashboards that both saw a failover make two entries with different ids
(``<origin node>:<kind>:<time>``).  An entry is a duplicate when one with the same
id is kept, or one made by another dashboard with the same kind, node and group
within :data:`SAME_EVENT` seconds (dashboards see an event within a poll of each
other; "failover" and "restart" count as one kind, as a dashboard that polled
past the group's stop on the other node takes a failover for a restart).
Entries of one dashboard never merge with each other: a group moved twice in a
second is two events.  So each dashboard shows what it saw itself,
and another's entries fill only what it missed.

The history lives in ``<state_dir>/web-timeline.jsonl``, one JSON entry per
line, at most :data:`KEEP` entries younger than :data:`MAX_AGE`.  An entry is
appended with one small ``write`` and no fsync (the page cache takes it: the
loop does not wait on the disk); the file is rewritten in full only when it
holds twice as many lines as are kept, and a torn last line is skipped at load.
"""

from __future__ import annotations

import json
import logging
import os
from bisect import insort
from pathlib import Path
from typing import Any

from cluster.bus.messages.web import TimelineEntry

log = logging.getLogger(__name__)

Entry = dict[str, Any]

KEEP = 500
MAX_AGE = 30 * 86400.0
SAME_EVENT = 5.0
SHARE = 40           # entries sent to a dashboard that asks (bounded: serial links are slow)
FILE = "web-timeline.jsonl"


def to_message(entry: Entry) -> TimelineEntry:
    return TimelineEntry(entry["id"], float(entry["when"]), entry["kind"], entry["text"],
                         entry.get("node"), entry.get("group"), entry.get("duration"))


def from_message(entry: TimelineEntry) -> Entry:
    return {"id": entry.id, "when": entry.when, "kind": entry.kind, "text": entry.text,
            "node": entry.node, "group": entry.group, "duration": entry.duration}


_KIND = {"restart": "failover"}      # the same event, seen from further away


def _origin(ident: str) -> str:
    return ident.split(":", 1)[0]


def _valid(entry: object) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("id"), str)
            and isinstance(entry.get("when"), int | float) and isinstance(entry.get("kind"), str)
            and isinstance(entry.get("text"), str))


class History:
    """The kept timeline, oldest first; :meth:`add` says whether an entry was new."""

    def __init__(self, state_dir: Path | None, now: float) -> None:
        self._path = state_dir / FILE if state_dir is not None else None
        self._entries: list[tuple[float, str, Entry]] = []
        self._lines = 0
        if self._path is not None:
            self._load(now)

    @property
    def entries(self) -> list[Entry]:
        return [entry for _when, _id, entry in self._entries]

    def recent(self, count: int = SHARE) -> list[Entry]:
        return self.entries[-count:]

    def last_fence(self) -> Entry | None:
        for _when, _id, entry in reversed(self._entries):
            if entry["kind"] in ("fence", "fence-failed"):
                return entry
        return None

    def add(self, entry: Entry, now: float) -> bool:
        """Keep `entry` unless it is a duplicate or too old; True when it was kept."""
        if not _valid(entry) or entry["when"] < now - MAX_AGE or self._known(entry):
            return False
        insort(self._entries, (float(entry["when"]), entry["id"], entry),
               key=lambda item: (item[0], item[1]))
        del self._entries[:-KEEP]
        self._append(entry)
        return True

    def _known(self, entry: Entry) -> bool:
        origin = _origin(entry["id"])
        for when, ident, kept in reversed(self._entries):
            if ident == entry["id"]:
                return True
            if (abs(when - entry["when"]) <= SAME_EVENT and _origin(ident) != origin
                    and _KIND.get(kept["kind"], kept["kind"])
                    == _KIND.get(entry["kind"], entry["kind"])
                    and kept.get("node") == entry.get("node")
                    and kept.get("group") == entry.get("group")):
                return True
        return False

    # -- the file ---------------------------------------------------------------------------
    def _load(self, now: float) -> None:
        assert self._path is not None
        try:
            text = self._path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        except OSError as err:
            log.warning("cannot read the kept timeline %s: %s; starting empty", self._path, err)
            return
        bad = 0
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if not _valid(entry) or entry["when"] < now - MAX_AGE or self._known(entry):
                continue
            insort(self._entries, (float(entry["when"]), entry["id"], entry),
                   key=lambda item: (item[0], item[1]))
        del self._entries[:-KEEP]
        if bad:
            log.warning("skipped %d unreadable line(s) of %s", bad, self._path)
        self._rewrite()

    def _append(self, entry: Entry) -> None:
        if self._path is None:
            return
        if self._lines + 1 >= 2 * KEEP:
            self._rewrite()
            return
        try:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._lines += 1
        except OSError as err:
            log.warning("cannot keep a timeline entry in %s: %s", self._path, err)

    def _rewrite(self) -> None:
        assert self._path is not None
        temp = self._path.with_suffix(".tmp")
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(e, separators=(",", ":")) + "\n"
                                  for e in self.entries)
            os.replace(temp, self._path)
            self._lines = len(self._entries)
        except OSError as err:
            log.warning("cannot write the kept timeline %s: %s", self._path, err)
