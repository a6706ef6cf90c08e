"""What a fencing device operation can come to, in cluster-glue's vocabulary.

Role: the result codes every device driver, the ``stonith`` CLI and stonithd
share.  The numbers are the exit codes of cluster-glue's ``stonith(8)``
(``S_OK`` .. ``S_OOPS``), so scripts written against the original keep
working: 0 OK, 1 BADCONFIG, 2 ACCESS, 3 INVAL, 4 BADHOST, 5 RESETFAIL,
6 TIMEOUT, 7 ISOFF, 8 OOPS.

An :class:`Outcome` is a code plus a sentence for people (``detail``) and,
for the ``hosts``/``check`` operations, the hosts the device controls.
:class:`Deadline` is the one clock drivers use: every blocking step of a
driver asks it how long it may still wait, so an operation never outlives
the timeout its caller gave.  Talks to nothing.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ACTIONS", "Code", "Deadline", "Outcome"]

#: Power actions a device can be asked for (stonith -T, FenceNode.action).
ACTIONS = ("reset", "off", "on")


class Code(enum.IntEnum):
    """cluster-glue's result codes, used as the exit status of ``stonith``."""

    OK = 0
    BADCONFIG = 1   # the parameters are wrong or the device type is unknown
    ACCESS = 2      # the device refused us (permissions, unsafe plugin file)
    INVAL = 3       # the device cannot do what was asked (e.g. ssh "on")
    BADHOST = 4     # the device does not control that host
    RESETFAIL = 5   # the device was asked and said no, or did not confirm
    TIMEOUT = 6     # the device did not answer in time
    ISOFF = 7       # the host is already off (reported, not a failure of "off")
    OOPS = 8        # anything else: cannot open the port, plugin crashed...


@dataclass(frozen=True, slots=True)
class Outcome:
    code: Code
    detail: str
    hosts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code is Code.OK

    def to_json(self) -> dict[str, object]:
        return {"code": int(self.code), "detail": self.detail, "hosts": list(self.hosts)}

    @classmethod
    def from_json(cls, data: object) -> Outcome:
        """Parse the runner's answer; anything malformed becomes OOPS."""
        if not isinstance(data, dict):
            return cls(Code.OOPS, "device runner answered something that is not an object")
        try:
            code = Code(int(data["code"]))
            detail = str(data["detail"])
            hosts = tuple(str(h) for h in data.get("hosts", ()))
        except (KeyError, TypeError, ValueError) as err:
            return cls(Code.OOPS, f"device runner answered nonsense: {err}")
        return cls(code, detail, hosts)


class Deadline:
    """A point in monotonic time an operation must be finished by."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self.at

    def cap(self, seconds: float) -> float:
        """`seconds`, or less if the deadline comes first."""
        return min(seconds, self.remaining())

    def describe(self) -> str:
        whole = math.ceil(self.seconds) if self.seconds >= 1 else self.seconds
        return f"{whole:g} s"
