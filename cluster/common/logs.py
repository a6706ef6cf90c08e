"""The only logging setup of the stack.

Line shape, like Heartbeat's log files but with milliseconds because our
timings are sub-second::

    Nov 25 00:41:02.123 node1 hbcomm[4242]: WARN: Late heartbeat: node node2: interval 150 ms

Every daemon writes its own file ``<log-dir>/<daemon>.log``.  ``ha.cf``'s
``logfile`` (info and up), ``debugfile`` (everything) and ``logfacility``
(syslog via /dev/log) are honoured on top.  Nothing here runs at import.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

# Heartbeat's level words: operators grep for "WARN:" and "ERROR:".
_LEVEL_WORDS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRIT",
}

class HeartbeatFormatter(logging.Formatter):
    """``Mon DD HH:MM:SS.mmm node daemon[pid]: LEVEL: text``."""

    def __init__(self, node: str, daemon: str) -> None:
        super().__init__()
        self._prefix = f"{node} {daemon}"

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(record.created))
        level = _LEVEL_WORDS.get(record.levelno, record.levelname)
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return (f"{stamp}.{int(record.msecs):03d} {self._prefix}[{record.process}]: "
                f"{level}: {text}")


class _SyslogFormatter(logging.Formatter):
    def __init__(self, daemon: str) -> None:
        super().__init__()
        self._daemon = daemon

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_WORDS.get(record.levelno, record.levelname)
        return f"{self._daemon}[{record.process}]: {level}: {record.getMessage()}"


def setup_logging(daemon: str, node: str, log_dir: Path | None, *,
                  logfile: str | None = None, debugfile: str | None = None,
                  logfacility: str | None = None, debug: int = 0,
                  console: bool = False) -> None:
    """Route the root logger to this daemon's file and the ha.cf targets."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if debug > 0 else logging.INFO)
    formatter = HeartbeatFormatter(node, daemon)

    def add(handler: logging.Handler, level: int) -> None:
        handler.setFormatter(formatter)
        handler.setLevel(level)
        root.addHandler(handler)

    base_level = logging.DEBUG if debug > 0 else logging.INFO
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        add(logging.FileHandler(log_dir / f"{daemon}.log"), base_level)
    for path, level in ((logfile, logging.INFO), (debugfile, logging.DEBUG)):
        if path and path != "/dev/null":
            try:
                add(logging.FileHandler(path), level)
            except OSError as err:
                logging.getLogger(__name__).warning("cannot open log file %s: %s", path, err)
    if logfacility and logfacility != "none":
        _add_syslog(root, daemon, logfacility)
    if console:
        add(logging.StreamHandler(), base_level)


def _add_syslog(root: logging.Logger, daemon: str, facility: str) -> None:
    # Imported here: logging.handlers brings socket, pickle and queue along
    # (half a MiB in every daemon), and most nodes log to files only.
    import logging.handlers

    if not os.path.exists("/dev/log"):
        return
    facilities = logging.handlers.SysLogHandler.facility_names
    try:
        handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=facilities.get(facility, facilities["daemon"]))
    except OSError:
        return
    handler.setFormatter(_SyslogFormatter(daemon))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)


class RateLimiter:
    """Allow one event per `interval` seconds; count the ones suppressed.

    Used for log lines about hostile input: a flood of bad packets must not
    become a flood of log lines.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")
        self.suppressed = 0

    def allow(self, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        if current - self._last >= self.interval:
            self._last = current
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count
