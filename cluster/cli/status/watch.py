"""``crm_status -i SEC`` / ``--watch``: redraw until Ctrl-C, like crm_mon's console.

On a terminal the picture is drawn on the alternate screen (the shell's
screen comes back untouched on exit, cursor shown again); into a pipe or file
each snapshot is printed after a blank line and a form feed, so ``less`` and
log files stay readable.  A snapshot that fails (stack stopped) shows the
error in place and the watch goes on; ``count`` bounds the loop for scripts.
SIGTERM ends the watch as Ctrl-C does, so the terminal is restored either way.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import TextIO

__all__ = ["watch"]

_ENTER = "\x1b[?1049h\x1b[?25l"
_LEAVE = "\x1b[?25h\x1b[?1049l"
_HOME_CLEAR = "\x1b[H\x1b[2J"


def _interrupt(_signo: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def watch(snapshot: Callable[[], str], interval: float, out: TextIO,
          count: int | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Print ``snapshot()`` every ``interval`` seconds, ``count`` times (None: until Ctrl-C)."""
    terminal = out.isatty()
    if terminal:
        out.write(_ENTER)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        shown = 0
        while count is None or shown < count:
            text = snapshot()
            if terminal:
                out.write(_HOME_CLEAR + text + "\n")
            else:
                out.write(("\n\f\n" if shown else "") + text + "\n")
            out.flush()
            shown += 1
            if count is None or shown < count:
                sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if terminal:
            out.write(_LEAVE)
            out.flush()
