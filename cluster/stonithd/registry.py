"""Device types by name: list them, name their parameters, build a driver.

Role: the one place that knows every device type.  ``stonith -L``,
``stonith -t TYPE -n`` and the runner that stonithd uses all come here, so
the CLI and the daemon configure devices identically.

Types: the built-ins ``null``, ``ssh``, ``meatware`` (parameter
``hostlist``) and ``rps10`` (``serial_to_targets``); ``external/NAME`` for
every plugin script found (see :mod:`cluster.stonithd.external`); ``fence_*``
for every fence agent found (see :mod:`cluster.stonithd.fenceagent`).

Parameters come either positional (ha.cf, ``stonith -p``), mapped onto the
type's configuration names with the last name taking the rest, or as
``name=value`` pairs (``stonith name=value...``).  Building never raises: a
problem comes back as an :class:`~cluster.stonithd.outcome.Outcome`
(BADCONFIG for a wrong configuration, ACCESS for an unsafe plugin file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from cluster.stonithd.devices import map_positional, named_from_text
from cluster.stonithd.external import ExternalPlugin, external_names, find_external
from cluster.stonithd.fenceagent import FenceAgent, fence_agent_names, find_fence_agent
from cluster.stonithd.outcome import Code, Deadline, Outcome
from cluster.stonithd.plugin import Driver, unsafe_program
from cluster.stonithd.rps10 import Rps10Switch
from cluster.stonithd.simple import MeatwareDevice, NullDevice, SshDevice

__all__ = ["BUILTIN_TYPES", "build_driver", "config_names", "describe_type", "list_types"]

_Factory = Callable[[str], Driver]

#: type -> (configuration names, constructor from the single parameter, description)
BUILTIN_TYPES: Mapping[str, tuple[tuple[str, ...], _Factory, str]] = {
    "null": (("hostlist",), NullDevice, "pretends to reset the listed hosts (testing only)"),
    "ssh": (("hostlist",), SshDevice, "reboots the listed hosts over ssh (testing only)"),
    "meatware": (("hostlist",), MeatwareDevice,
                 "a person power-cycles the host and confirms with meatclient -c HOST"),
    "rps10": (("serial_to_targets",), Rps10Switch,
              "WTI RPS-10 serial power switch: serial_to_targets = TTY NODE OUTLET [NODE OUTLET]"),
}


def list_types(conf_dir: Path | None) -> list[str]:
    """Every device type available here, sorted (``stonith -L``)."""
    return sorted({*BUILTIN_TYPES, *external_names(conf_dir), *fence_agent_names(conf_dir)})


def describe_type(device_type: str) -> str:
    builtin = BUILTIN_TYPES.get(device_type)
    if builtin is not None:
        return builtin[2]
    if device_type.startswith("external/"):
        return "cluster-glue external plugin (parameters from its getconfignames)"
    if device_type.startswith("fence_"):
        return "fence-agents agent (name=value parameters on standard input)"
    return "unknown device type"


def _locate(device_type: str, conf_dir: Path | None) -> Path | Outcome:
    if device_type.startswith("external/"):
        found = find_external(device_type.partition("/")[2], conf_dir)
    elif device_type.startswith("fence_"):
        found = find_fence_agent(device_type, conf_dir)
    else:
        found = None
    if found is None:
        return Outcome(Code.BADCONFIG, f"unknown device type {device_type!r} "
                       "(stonith -L lists the installed ones)")
    refusal = unsafe_program(found)
    return Outcome(Code.ACCESS, refusal) if refusal is not None else found


def config_names(device_type: str, conf_dir: Path | None,
                 deadline: Deadline) -> tuple[str, ...] | Outcome:
    """The type's configuration names, in positional order (``stonith -n``)."""
    builtin = BUILTIN_TYPES.get(device_type)
    if builtin is not None:
        return builtin[0]
    path = _locate(device_type, conf_dir)
    if isinstance(path, Outcome):
        return path
    if device_type.startswith("external/"):
        return ExternalPlugin.config_names(path, deadline)
    return FenceAgent.config_names(path, deadline)


def build_driver(device_type: str, conf_dir: Path | None, deadline: Deadline, *,
                 positional: str | None = None,
                 named: Mapping[str, str] | None = None) -> Driver | Outcome:
    """A configured device from positional text or ``name=value`` pairs."""
    if (positional is None) == (named is None):
        return Outcome(Code.BADCONFIG, "give the parameters either positionally or as "
                       "name=value pairs")
    builtin = BUILTIN_TYPES.get(device_type)
    if builtin is not None:
        names, factory, _ = builtin
        params = dict(named) if named is not None else map_positional(names, positional or "")
        missing = [n for n in names if not params.get(n, "").strip()]
        if missing:
            return Outcome(Code.BADCONFIG, f"{device_type}: missing parameter "
                           f"{', '.join(missing)} (needs: {' '.join(names)})")
        try:
            return factory(params[names[0]])
        except ValueError as err:
            return Outcome(Code.BADCONFIG, f"{device_type}: {err}")
    path = _locate(device_type, conf_dir)
    if isinstance(path, Outcome):
        return path
    if device_type.startswith("fence_"):
        try:
            params = dict(named) if named is not None else named_from_text(positional or "")
        except ValueError as err:
            return Outcome(Code.BADCONFIG, f"{device_type}: {err}")
        return FenceAgent(path, params)
    if named is not None:
        return ExternalPlugin(path.name, path, named)
    names_or_error = ExternalPlugin.config_names(path, deadline)
    if isinstance(names_or_error, Outcome):
        return names_or_error
    return ExternalPlugin(path.name, path, map_positional(names_or_error, positional or ""))
