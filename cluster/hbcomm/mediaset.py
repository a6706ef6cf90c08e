"""hbcomm's media: the open ones, and the reopen timers of those that failed.

A medium whose device went away (see :class:`~cluster.hbcomm.media.MediumFailed`)
is closed at once and its reader removed, so the loop does not spin on a
descriptor that reports readiness or errors forever.  Its link is reported
lost (the shell marks it dead for every node), the failure is logged once per
minute at most, and a loop timer reopens it on the :mod:`~cluster.hbcomm.backoff`
schedule: 1 s doubling to 30 s.  A replugged cable or a re-created interface
with the same name therefore comes back by itself; a reopened UDP socket binds
to the new interface and joins its multicast group afresh.  A medium that could
not be opened at start is retried the same way (unless hbcomm cannot drive its
kind at all).

A reload (:meth:`MediaSet.replace`) closes the media no longer configured and
opens the new ones; a medium whose ha.cf line did not change (moving the line
does not count) is left alone, socket and all.

``live`` is the list the send path walks; it is replaced, never changed in
place, so a failure in the middle of a send does not disturb the walk.

:meth:`MediaSet.suspend` takes the open media off the loop (the shell then
reads them on its own timer, many datagrams per wake-up) and
:meth:`MediaSet.resume` puts them back; a medium opened or closed meanwhile
follows the set's state.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cluster.bus.loop import Loop, Timer
from cluster.common.logs import RateLimiter
from cluster.config.diff import unlined
from cluster.config.hacf import Medium
from cluster.hbcomm.backoff import Backoff, BackoffPolicy
from cluster.hbcomm.media import MediumError, MediumUnsupported, Transport, open_medium

__all__ = ["MediaSet"]

log = logging.getLogger(__name__)

_REPORT_INTERVAL = 60.0  # seconds between log lines about one medium that stays down


@dataclass(slots=True)
class _Slot:
    """One configured medium: open (``transport``) or waiting for its reopen timer."""

    config: Medium
    transport: Transport | None = None
    backoff: Backoff = field(default_factory=Backoff)
    timer: Timer | None = None
    down_since: float = 0.0
    reopens: int = 0  # failed reopen attempts since it went down
    unreported: int = 0  # failures the rate limit kept out of the log
    report: RateLimiter = field(default_factory=lambda: RateLimiter(_REPORT_INTERVAL))

    @property
    def label(self) -> str:
        return f"{self.config.kind} {self.config.name}"


class MediaSet:
    """Opens every configured medium; closes and reopens the ones that fail.

    ``on_readable(transport)`` is called when an open medium has input;
    ``on_lost(link)`` when the last open medium of a link name failed.
    """

    def __init__(self, loop: Loop, media: Iterable[Medium], *,
                 on_readable: Callable[[Transport], None], on_lost: Callable[[str], None],
                 counters: Counter[str], policy: BackoffPolicy | None = None) -> None:
        self._loop = loop
        self._on_readable = on_readable
        self._on_lost = on_lost
        self._counters = counters
        self._policy = policy
        self._slots = [_Slot(m, backoff=Backoff(policy)) for m in media]
        self.live: list[Transport] = []
        self.suspended = False

    def open_all(self) -> None:
        """Open every medium; one that fails is retried later. RuntimeError if none opened."""
        now = self._loop.clock()
        for slot in self._slots:
            self._open_first(slot, now)
        if not self.live:
            raise RuntimeError("no heartbeat medium could be opened; see the errors above")

    def replace(self, media: Iterable[Medium]) -> None:
        """A reload: close the media not in ``media``, open the new ones, keep the rest."""
        now = self._loop.clock()
        current = {unlined(slot.config): slot for slot in self._slots}
        slots = []
        for medium in media:
            slot = current.pop(unlined(medium), None)
            if slot is None:
                slot = _Slot(medium, backoff=Backoff(self._policy))
                self._open_first(slot, now)
            slots.append(slot)
        for slot in current.values():
            if slot.timer is not None:
                slot.timer.cancel()
            self._detach(slot)
            log.info("heartbeat medium %s removed from ha.cf: closed", slot.label)
        self._slots = slots

    def _open_first(self, slot: _Slot, now: float) -> None:
        try:
            self._attach(slot, open_medium(slot.config), now)
        except MediumUnsupported as err:
            log.error("%s; this medium is not used", err)
        except (MediumError, OSError) as err:
            slot.down_since = now
            retry = self._retry_later(slot, now)
            slot.report.allow(now)  # this report counts as the medium's first
            log.error("%s; retrying in %d s, then at growing intervals up to %d s", err,
                      round(retry - now), round(slot.backoff.policy.limit))
        else:
            log.info("heartbeat medium %s up (%s)", slot.label, slot.config.describe())

    def names(self) -> tuple[str, ...]:
        """Every configured link name, once, in ha.cf order (open or not)."""
        return tuple(dict.fromkeys(slot.config.name for slot in self._slots))

    def local_links(self) -> dict[str, str]:
        """Our own paths: ``up`` while sending on an open medium of that name works."""
        status = dict.fromkeys(self.names(), "dead")
        for transport in self.live:
            if transport.last_send_ok:
                status[transport.name] = "up"
        return status

    def failed(self, transport: Transport, err: MediumError) -> None:
        """``transport`` reported its device gone: close it, report the link, retry later."""
        slot = next((s for s in self._slots if s.transport is transport), None)
        if slot is None:
            return  # already closed by an earlier failure in the same pass
        now = self._loop.clock()
        self._detach(slot)
        slot.down_since, slot.reopens = now, 0
        self._counters["media_failures"] += 1
        retry = self._retry_later(slot, now)
        if not slot.report.allow(now):
            slot.unreported += 1
        else:
            also, slot.unreported = slot.unreported, 0
            log.error("heartbeat medium %s failed (%s): closed it and marked its links dead; "
                      "reopening in %d s, then at growing intervals up to %d s%s", slot.label,
                      _cause(err), round(retry - now), round(slot.backoff.policy.limit),
                      f"; {also} more failure(s) since the last report" if also else "")
        if not any(t.name == transport.name for t in self.live):
            self._on_lost(transport.name)

    def suspend(self) -> None:
        """Stop watching the open media: the caller reads them when it chooses."""
        if not self.suspended:
            self.suspended = True
            for transport in self.live:
                self._loop.remove_reader(transport.fileno())

    def resume(self) -> None:
        """Watch the open media again: input wakes the loop at once."""
        if self.suspended:
            self.suspended = False
            for slot in self._slots:
                if slot.transport is not None:
                    self._watch(slot, slot.transport)

    def close(self) -> None:
        for slot in self._slots:
            if slot.timer is not None:
                slot.timer.cancel()
                slot.timer = None
            self._detach(slot)

    # -- internals ------------------------------------------------------------------
    def _attach(self, slot: _Slot, transport: Transport, now: float) -> None:
        slot.transport = transport
        slot.backoff.opened(now)
        if not self.suspended:
            self._watch(slot, transport)
        self.live = [*self.live, transport]

    def _watch(self, slot: _Slot, transport: Transport) -> None:
        self._loop.add_reader(transport.fileno(),
                              functools.partial(self._readable, slot, transport))

    def _readable(self, slot: _Slot, transport: Transport) -> None:
        # A medium that failed earlier in the same loop pass may still be on
        # the pass's ready list: its descriptor is closed, so skip it.
        if slot.transport is transport:
            self._on_readable(transport)

    def _detach(self, slot: _Slot) -> None:
        transport, slot.transport = slot.transport, None
        if transport is None:
            return
        self.live = [t for t in self.live if t is not transport]
        if not self.suspended:
            self._loop.remove_reader(transport.fileno())
        try:
            transport.close()
        except OSError as err:  # a vanished device may refuse even the close
            log.debug("closing %s: %s", slot.label, err)

    def _retry_later(self, slot: _Slot, now: float) -> float:
        retry = slot.backoff.failed(now)
        slot.timer = self._loop.call_at(retry, functools.partial(self._reopen, slot))
        return retry

    def _reopen(self, slot: _Slot) -> None:
        slot.timer = None
        now = self._loop.clock()
        try:
            transport = open_medium(slot.config)
        except (MediumError, OSError) as err:
            slot.reopens += 1
            retry = self._retry_later(slot, now)
            if slot.report.allow(now):
                log.warning("heartbeat medium %s still down after %d s (%s); %d reopen "
                            "attempt(s) failed, next in %d s", slot.label,
                            round(now - slot.down_since), _cause(err), slot.reopens,
                            round(retry - now))
            return
        self._attach(slot, transport, now)
        self._counters["media_reopened"] += 1
        log.info("heartbeat medium %s is back after %d s (%s)", slot.label,
                 round(now - slot.down_since), slot.config.describe())


def _cause(err: OSError) -> str:
    """The reason alone: the medium's label is already in the log line."""
    return err.strerror or str(err)
