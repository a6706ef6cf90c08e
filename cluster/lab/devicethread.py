"""The thread skeleton of the lab's hardware stand-ins (RPS-10 switch, watchdog).

Each simulated device is served by one daemon thread of the test process. It
waits on its device descriptor and on a wake pipe, so :meth:`close` can
interrupt any wait at once; close then joins the thread, closes the
descriptors and removes the device's path.  Subclasses give ``_run`` (loop
until ``_stop`` is set) and ``_device_fds`` (what to close, as of now).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cluster.lab.lab import Lab

__all__ = ["DeviceThread"]

_JOIN_TIMEOUT = 30.0


class DeviceThread:
    path: Path

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._closed = False
        self._thread: threading.Thread | None = None

    def _start(self, name: str, lab: Lab | None) -> None:
        """Serve the device from now on; the lab closes it if the test does not."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if lab is not None:
            lab.resources.add_closer(self.close)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=_JOIN_TIMEOUT)
        for fd in (*self._device_fds(), self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        raise NotImplementedError

    def _device_fds(self) -> tuple[int, ...]:
        raise NotImplementedError
