"""Which fencing devices this node has: the ``stonith``/``stonith_host`` rules, pure.

Role: turn ha.cf's fencing lines into the list of devices one node uses,
and map a device's parameter text onto its configuration names.  No I/O:
the caller reads the R1 parameter file and asks plugins for their names.

Rules (Heartbeat 3.0.6, reference 7.1, plus two of ours):

* A ``stonith_host <host|*> <type> <params...>`` line applies to node N when
  ``<host>`` is ``*`` or N (both lower case).  Lines for other nodes are
  ignored, so one ha.cf serves every node.
* Heartbeat keeps one device per node, the last applicable line.  We keep
  one device per *device name* (:func:`device_name`: the type, plus the
  serial port for ``rps10``), the last applicable line for each name, in
  the order those lines appear; so a node may have an rps10 and an
  external plugin, while a later ``*`` line still overrides an earlier one
  for the same device.
* ``stonith <type> <file>`` (R1's single device) comes first; its
  parameters are the first line of the file that is neither blank nor a
  comment.
* Parameters are positional, in the order of the type's configuration
  names (``stonith -t TYPE -n``); the last name takes the rest of the line,
  spaces included (:func:`map_positional`).  ``fence_*`` agents take
  ``name=value`` words instead (:func:`parse_named`).
* Ours: the words ``pcmk_delay_base=T`` and ``pcmk_delay_max=T`` (Pacemaker's
  names; T in seconds, ``ms`` allowed) are taken out of any line before the
  mapping.  stonithd waits ``base + random(0, max)`` before a device's first
  attempt, which breaks a two-node fencing race ("deathmatch"): give the
  node that should survive no delay, and its peer's line a delay.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cluster.config import values
from cluster.config.hacf import StonithHost

__all__ = [
    "DeviceConfig",
    "device_name",
    "map_positional",
    "named_from_text",
    "parse_named",
    "r1_params",
    "render_named",
    "select_devices",
    "split_delays",
]

_DELAY = re.compile(r"[ \t]*\bpcmk_delay_(base|max)=(\S+)")
_NAMED = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device as configured: its type, parameter text and fencing delay."""

    type: str
    params: str                 # positional text (or name=value words for fence_*)
    source: str                 # where it was configured, for messages: "ha.cf:12"
    delay_base: float = 0.0
    delay_max: float = 0.0

    @property
    def name(self) -> str:
        return device_name(self.type, self.params)


def device_name(device_type: str, params: str) -> str:
    """The name logs and results use: ``rps10 /dev/ttyS0``, ``fence_ipmilan 10.0.0.9``,
    ``external/ipmi``, ``null``: the type, plus the port or address that tells two
    devices of one type apart."""
    words = params.split()
    if device_type == "rps10" and words:
        return f"rps10 {words[0]}"
    if device_type.startswith("fence_"):
        try:
            named = named_from_text(params)
        except ValueError:
            return device_type
        address = named.get("ipaddr") or named.get("ip")
        return f"{device_type} {address}" if address else device_type
    return device_type


def split_delays(params: str) -> tuple[str, float, float]:
    """Take ``pcmk_delay_base=``/``pcmk_delay_max=`` out of a parameter text.

    Returns (the remaining text, base, max).  Raises ValueError on a bad time.
    """
    found = {"base": 0.0, "max": 0.0}

    def take(match: re.Match[str]) -> str:
        text = match.group(2)
        if text.endswith("s") and not text.endswith(("ms", "us")):
            text = text[:-1]
        try:
            found[match.group(1)] = values.duration(text)
        except ValueError as err:
            raise ValueError(f"pcmk_delay_{match.group(1)}: {err}") from None
        return ""

    rest = _DELAY.sub(take, params)
    return (rest.strip(" \t") if rest != params else params), found["base"], found["max"]


def select_devices(lines: Sequence[StonithHost], node: str,
                   r1: tuple[str, str] | None = None, r1_text: str | None = None,
                   source: str = "ha.cf") -> tuple[DeviceConfig, ...]:
    """The devices `node` uses, R1's first, then one per device name (last line wins).

    `r1` is ``HaConfig.stonith`` (type, file) and `r1_text` that file's text.
    Raises ValueError for a bad ``pcmk_delay_*`` value.
    """
    wanted = node.lower()
    chosen: dict[str, DeviceConfig] = {}
    if r1 is not None and r1_text is not None:
        device = _device(r1[0], r1_params(r1_text), r1[1])
        chosen[device.name] = device
    for line in lines:
        if line.from_node not in ("*", wanted):
            continue
        device = _device(line.type, line.raw_params, f"{source}:{line.line}")
        # A later line for the same device replaces the earlier one, in its place.
        chosen.pop(device.name, None)
        chosen[device.name] = device
    return tuple(chosen.values())


def _device(device_type: str, params: str, source: str) -> DeviceConfig:
    rest, base, most = split_delays(params)
    return DeviceConfig(device_type, rest, source, base, most)


def r1_params(text: str) -> str:
    """The parameter line of an R1 ``stonith TYPE FILE`` file: first non-comment line."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def map_positional(names: Sequence[str], text: str) -> dict[str, str]:
    """Positional parameters onto configuration names; the last name takes the rest.

    ``map_positional(["ipaddr", "userid", "passwd"], "10.0.0.9 admin my secret")``
    is ``{"ipaddr": "10.0.0.9", "userid": "admin", "passwd": "my secret"}``.
    Names without a value are left out (the plugin decides what is required).
    """
    if not names:
        return {}
    words = text.strip().split(None, len(names) - 1)
    return dict(zip(names, words, strict=False))


def parse_named(words: Sequence[str]) -> dict[str, str]:
    """``name=value`` words (stonith's command line, fence agent lines); last one wins.

    Raises ValueError naming the first word that is not ``name=value``.
    """
    result: dict[str, str] = {}
    for word in words:
        match = _NAMED.fullmatch(word)
        if match is None:
            raise ValueError(f"{word!r} is not name=value")
        result[match.group(1)] = match.group(2)
    return result


def named_from_text(text: str) -> dict[str, str]:
    """``name=value`` words of a parameter line, shell-quoted values allowed."""
    try:
        return parse_named(shlex.split(text))
    except ValueError as err:
        raise ValueError(f"fence agent parameters must be name=value words: {err}") from None


def render_named(params: Mapping[str, str]) -> str:
    """The inverse of :func:`named_from_text`."""
    return " ".join(f"{key}={shlex.quote(value)}" for key, value in params.items())
