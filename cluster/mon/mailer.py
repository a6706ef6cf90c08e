"""The built-in mail alert inside the daemon: SMTP from worker threads.

Role: :class:`Mailer` composes the mail of an alert call (``mail.py``) and
hands the SMTP exchange to a small thread pool, so a slow or dead mail
server never blocks the loop and no interpreter has to start per mail.
Completions travel back through a self-pipe registered with the loop, so
the daemon's callback runs on the loop's thread like every other event.
Every send has a deadline on the loop as well: a worker stuck past it is
reported as a failure (and its late result ignored); SMTP's own socket
timeout makes the thread end soon after.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import queue
import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from cluster.bus.loop import Loop, Timer
from cluster.mon import mail
from cluster.mon.alerts import AlertCall, AlertKind
from cluster.mon.specs import SmtpSettings

__all__ = ["Mailer", "SendResult"]

log = logging.getLogger(__name__)

# Mails in flight at once: alerts are rare; a few threads cover a burst.
_WORKERS = 4
_KINDS = {AlertKind.FAILURE: "failure", AlertKind.UP: "up", AlertKind.STARTUP: "startup"}

Done = Callable[["SendResult"], None]


@dataclass(frozen=True, slots=True)
class SendResult:
    error: str | None  # None: the server accepted the mail


@dataclass(eq=False)
class _Send:
    done: Done
    timer: Timer | None = None
    finished: bool = False


class Mailer:
    """Sends built-in mail alerts without blocking `loop`."""

    def __init__(self, loop: Loop, smtp: SmtpSettings, deadline: float) -> None:
        self._loop = loop
        self._smtp = smtp
        self._deadline = deadline
        self._pool = concurrent.futures.ThreadPoolExecutor(_WORKERS, "cluster-mon-mail")
        self._results: queue.SimpleQueue[tuple[_Send, str | None]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        loop.add_reader(self._wake_r, self._drain)

    def configure(self, smtp: SmtpSettings) -> None:
        """New SMTP settings (a reloaded mon.cf) for mails sent from now on."""
        self._smtp = smtp

    def send(self, call: AlertCall, done: Done) -> None:
        """Mail `call` to its recipients; `done` runs on the loop exactly once."""
        options = call.alert.builtin
        assert options is not None, "not a built-in mail alert"
        message = mail.compose(mail.MailAlert(
            kind=_KINDS[call.kind], group=call.watch, service=call.name,
            hosts=" ".join(call.hosts), when=call.when, alertevery=int(call.alertevery),
            recipients=options.recipients,
            sender=options.sender or self._smtp.sender or mail.default_sender(),
            summary=call.summary, detail=call.detail,
            description=call.env.get("MON_DESCRIPTION", ""),
            last_summary=call.env.get("MON_LAST_SUMMARY", ""),
        ))  # fmt: skip
        job = _Send(done)
        job.timer = self._loop.call_later(self._deadline, lambda: self._expire(job))
        smtp = self._smtp

        def work() -> None:
            error: str | None = None
            try:
                mail.send(message, smtp.server, smtp.port, smtp.timeout)
            except (OSError, smtplib.SMTPException) as err:
                error = f"SMTP {smtp.server}:{smtp.port}: {err}"
            except Exception as err:  # a bug must still reach the loop, never vanish
                error = f"internal error: {err!r}"
            self._results.put((job, error))
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"\0")

        self._pool.submit(work)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loop.remove_reader(self._wake_r)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        while True:
            try:
                job, error = self._results.get_nowait()
            except queue.Empty:
                return
            self._finish(job, SendResult(error))

    def _expire(self, job: _Send) -> None:
        job.timer = None
        log.warning("mail alert still not sent after %.0f s; counting it as failed",
                    self._deadline)  # fmt: skip
        self._finish(job, SendResult(f"no answer from SMTP within {self._deadline:g} s"))

    def _finish(self, job: _Send, result: SendResult) -> None:
        if job.finished:
            return
        job.finished = True
        if job.timer is not None:
            job.timer.cancel()
        job.done(result)
