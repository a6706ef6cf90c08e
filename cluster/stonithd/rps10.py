"""``rps10`` devices: the WTI RPS-10 serial power switch.

Role: fence a node by switching the outlet its power cord is in.  The
parameter is ``serial_to_targets`` = ``TTY NODE OUTLET [NODE OUTLET]...``
(``stonith_host backupserver rps10 /dev/ttyS0 primaryserver 0``); outlets
are ``0``-``9`` or ``*`` (written ``A`` in the configuration: every unit).

Wire protocol (reference 7.7): 9600 8N1, no flow control.  On connect the
driver toggles DTR and the switch announces ``RPS-10 Ready`` (within 12 s).
A command is 9 bytes, ``\\x02\\x18\\x18\\x02\\x18\\x18`` + outlet + command +
``\\r``; commands are ``0`` off, ``1`` on, ``T`` toggle (off, delay, on),
``?`` status.  Replies are lines (CR/LF in either order) ``Plug N Off`` /
``Plug N On`` and finally ``Complete``.

Theory of operation (:class:`Rps10Exchange`, sans-I/O: bytes and ``now``
in, :class:`Send`/:class:`Finished` out)::

    CONNECTING --"RPS-10 Ready"--> (send command) --> WAIT_PLUG
    WAIT_PLUG  --"Plug N <want>"--> WAIT_COMPLETE
    WAIT_PLUG  --"Plug N <other>" or "Complete"--> FAILED
    WAIT_COMPLETE --"Plug N On" (toggle's second half)--> WAIT_COMPLETE
    WAIT_COMPLETE --"Complete"--> DONE (OK)
    any state --deadline passed--> FAILED (TIMEOUT)

Deadlines are glue's: 12 s for Ready, 5 s for the first Plug line, 14 s
from it to Complete.  "want" is Off for reset and off, On for on.  So a
reset is reported done only after the switch said the outlet went *Off* and
then *Complete*: a silent, unplugged or confused switch is a failure, never
a success.  :class:`Rps10Switch` is the I/O shell (pyserial).  On a pty (the
lab's simulator) the DTR ioctl is not supported; the driver carries on, and
the simulator (:mod:`cluster.lab.rps10`) takes the flush of the port's
input at open as DTR rising.
"""

from __future__ import annotations

import enum
import errno
import math
import re
import select
import time
from dataclasses import dataclass

from cluster.stonithd.outcome import Code, Deadline, Outcome

__all__ = ["COMMANDS", "PREFIX", "Finished", "Rps10Exchange", "Rps10Switch", "Send",
           "command_bytes", "parse_targets"]

PREFIX = b"\x02\x18\x18\x02\x18\x18"
COMMANDS = {"reset": "T", "off": "0", "on": "1", "status": "?"}
READY_TIMEOUT = 12.0
PLUG_TIMEOUT = 5.0
COMPLETE_TIMEOUT = 14.0
_BAUD = 9600
_DTR_LOW = 0.5           # seconds DTR is held low to reset the switch's serial interface
_PLUG = re.compile(r"Plug\s+(\d)\s+(On|Off)\b", re.IGNORECASE)
_MAX_UNITS = 10


def command_bytes(outlet: str, command: str) -> bytes:
    """The 9-byte command for `outlet` (``0``-``9``/``*``) and `command` (``0 1 T ?``)."""
    return PREFIX + outlet.encode() + command.encode() + b"\r"


def parse_targets(text: str) -> tuple[str, dict[str, str]]:
    """``/dev/ttyS0 alice 0 bob 1`` -> ("/dev/ttyS0", {"alice": "0", "bob": "1"})."""
    words = text.split()
    if len(words) < 3 or len(words) % 2 == 0:
        raise ValueError("rps10 takes a serial port and NODE OUTLET pairs, "
                         "e.g. /dev/ttyS0 alice 0 bob 1")
    targets: dict[str, str] = {}
    for node, outlet in zip(words[1::2], words[2::2], strict=True):
        outlet = "*" if outlet.upper() == "A" else outlet
        if not re.fullmatch(r"[0-9*]", outlet):
            raise ValueError(f"rps10 outlet {outlet!r} for {node} must be 0-9 or A")
        targets[node.lower()] = outlet
    if len(targets) > _MAX_UNITS:
        raise ValueError(f"an RPS-10 chain has at most {_MAX_UNITS} outlets")
    return words[0], targets


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class Finished:
    outcome: Outcome


class _State(enum.Enum):
    CONNECTING = "CONNECTING"
    WAIT_PLUG = "WAIT_PLUG"
    WAIT_COMPLETE = "WAIT_COMPLETE"
    DONE = "DONE"


class Rps10Exchange:
    """One command to a switch, from connect to ``Complete`` (sans-I/O)."""

    def __init__(self, device: str, outlet: str, command: str, now: float) -> None:
        self.device = device
        self.outlet = outlet
        self.command = command
        self.state = _State.CONNECTING
        self.deadline = now + READY_TIMEOUT
        self.heard: list[str] = []
        self._buffer = b""
        self._plug_state = ""

    @property
    def done(self) -> bool:
        return self.state is _State.DONE

    def feed(self, data: bytes, now: float) -> list[Send | Finished]:
        """Bytes from the switch; returns what to write and whether it is over."""
        if self.done:
            return []
        self._buffer += data
        out: list[Send | Finished] = []
        while not self.done:
            match = re.search(rb"[\r\n]", self._buffer)
            if match is None:
                break
            raw, self._buffer = self._buffer[: match.start()], self._buffer[match.end():]
            line = raw.decode("ascii", errors="replace").strip()
            if line:
                out += self._line(line, now)
        return out or self.tick(now)

    def tick(self, now: float) -> list[Send | Finished]:
        if self.done or now < self.deadline:
            return []
        waiting = {_State.CONNECTING: "'RPS-10 Ready'", _State.WAIT_PLUG: "a 'Plug' reply",
                   _State.WAIT_COMPLETE: "'Complete'"}[self.state]
        return self._finish(Code.TIMEOUT, f"no {waiting} from the switch in time"
                            f"{' (is it connected and powered?)' if not self.heard else ''}")

    def _line(self, line: str, now: float) -> list[Send | Finished]:
        self.heard.append(line)
        if self.state is _State.CONNECTING:
            if "RPS-10 Ready" in line:
                self.state = _State.WAIT_PLUG  # CONNECTING -> WAIT_PLUG: command sent
                self.deadline = now + PLUG_TIMEOUT
                return [Send(command_bytes(self.outlet, self.command))]
            return []
        plug = _PLUG.search(line)
        if plug is not None:
            number, state = plug.group(1), plug.group(2).capitalize()
            if self.outlet != "*" and number != self.outlet:
                return self._finish(Code.OOPS, f"switch answered for plug {number}, "
                                    f"not {self.outlet}")
            if self.state is _State.WAIT_PLUG:
                want = {"1": "On", "?": state}.get(self.command, "Off")
                if state != want:
                    return self._finish(Code.RESETFAIL, f"switch says plug {number} is {state}, "
                                        f"expected {want}")
                self._plug_state = state
                self.state = _State.WAIT_COMPLETE  # WAIT_PLUG -> WAIT_COMPLETE
                self.deadline = now + (COMPLETE_TIMEOUT if self.command == "T" else PLUG_TIMEOUT)
            return []
        if line.startswith("Complete"):
            if self.state is _State.WAIT_PLUG:  # WAIT_PLUG -> DONE, unconfirmed
                return self._finish(Code.RESETFAIL, "switch said Complete without a Plug reply")
            # WAIT_COMPLETE -> DONE
            code = Code.ISOFF if self.command == "?" and self._plug_state == "Off" else Code.OK
            return self._finish(code, "plug is Off" if code is Code.ISOFF else "")
        return []

    def _finish(self, code: Code, why: str) -> list[Send | Finished]:
        self.state = _State.DONE  # any -> DONE
        said = " / ".join(self.heard[-6:]) or "nothing"
        detail = f"{self.device}: {why + '; ' if why else ''}switch said: {said}"
        return [Finished(Outcome(code, detail))]


class Rps10Switch:
    """An RPS-10 chain on one serial port (the I/O shell around Rps10Exchange)."""

    type = "rps10"

    def __init__(self, params: str) -> None:
        self.tty, self.targets = parse_targets(params)

    def device_id(self) -> str:
        return f"rps10 {self.tty}"

    def hosts(self, deadline: Deadline) -> Outcome:
        hosts = tuple(self.targets)
        return Outcome(Code.OK, f"{self.device_id()} controls {' '.join(hosts)}", hosts)

    def status(self, deadline: Deadline) -> Outcome:
        """Connect and see ``RPS-10 Ready``: the switch is there and answering."""
        return self._exchange(None, "?", deadline)

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        command = COMMANDS.get(action)
        if command is None or action == "status":
            return Outcome(Code.INVAL, f"{self.device_id()}: no such action {action!r}")
        outlet = self.targets.get(host.lower())
        if outlet is None:
            return Outcome(Code.BADHOST, f"{self.device_id()} has no outlet for {host}")
        return self._exchange(outlet, command, deadline)

    def _exchange(self, outlet: str | None, command: str, deadline: Deadline) -> Outcome:
        import serial  # pyserial; imported here so listing types needs no serial port

        exchange = Rps10Exchange(self.device_id(), outlet or "0", command, time.monotonic())
        try:
            port = serial.Serial(self.tty, baudrate=_BAUD, bytesize=serial.EIGHTBITS,
                                 parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE,
                                 timeout=0, xonxoff=False, rtscts=False, dsrdtr=False)
        except (serial.SerialException, OSError, ValueError) as err:
            return Outcome(Code.OOPS, f"{self.device_id()}: cannot open {self.tty}: {err}")
        try:
            port.reset_input_buffer()
            _toggle_dtr(port, deadline)
            while True:
                now = time.monotonic()
                # The caller's deadline ends the exchange like the switch's own timeouts.
                events = exchange.tick(math.inf if deadline.expired() else now)
                if not events:
                    wait = max(0.0, min(exchange.deadline - now, deadline.remaining()))
                    readable, _, _ = select.select([port.fileno()], [], [], wait)
                    if readable:
                        events = exchange.feed(port.read(4096), time.monotonic())
                for event in events:
                    if isinstance(event, Finished):
                        if outlet is None and event.outcome.code in (Code.OK, Code.ISOFF):
                            return Outcome(Code.OK, f"{self.device_id()} device OK")
                        return event.outcome
                    if outlet is None:  # a status check only needs the Ready
                        return Outcome(Code.OK, f"{self.device_id()} device OK "
                                       "(answered RPS-10 Ready)")
                    port.write(event.data)
                    port.flush()
        except (serial.SerialException, OSError) as err:
            return Outcome(Code.OOPS, f"{self.device_id()}: I/O error on {self.tty}: {err}")
        finally:
            port.close()


def _toggle_dtr(port: object, deadline: Deadline) -> None:
    """Drop and raise DTR: the switch resets its serial side and says Ready."""
    try:
        port.dtr = False  # type: ignore[attr-defined]
    except OSError as err:
        if err.errno in (errno.ENOTTY, errno.EINVAL):
            return  # no modem lines (a pty): opening the port is the connect signal
        raise
    time.sleep(deadline.cap(_DTR_LOW))
    port.dtr = True  # type: ignore[attr-defined]
