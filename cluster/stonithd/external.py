"""``external/NAME`` devices: cluster-glue's external STONITH plugin protocol.

Role: run a plugin script the way cluster-glue's ``external`` plugin does
(reference 7.4), so the scripts Debian ships in
``/usr/lib/stonith/plugins/external/`` and any site script work unchanged.

Protocol: the script is called as ``SCRIPT OP [HOST]`` with its parameters
in the environment, one variable per configuration name (``hostlist=...``),
plus ``HA_LOGTAG=external/NAME`` and ``/usr/share/cluster-glue`` first on
``PATH`` (where ``ha_log.sh`` lives).  Operations: ``getconfignames`` (names,
whitespace separated), ``gethosts`` (hosts, whitespace separated; none is an
error), ``status``, ``reset|on|off HOST``; exit 0 means success.  A script
that is not a regular executable, or is writable by group or others, is
refused (:func:`cluster.stonithd.plugin.unsafe_program`).

Where scripts are looked up: ``CONFDIR/stonith/external/NAME`` first (a site
plugin next to ha.cf), then ``/usr/lib/stonith/plugins/external/NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cluster.stonithd.outcome import Code, Deadline, Outcome
from cluster.stonithd.plugin import (
    ProgramResult,
    find_program,
    program_names,
    run_program,
    unsafe_program,
)

__all__ = ["SYSTEM_DIR", "ExternalPlugin", "external_names", "find_external"]

SYSTEM_DIR = Path("/usr/lib/stonith/plugins/external")
_GLUE_SHARE = "/usr/share/cluster-glue"
_PREFIX = "external/"


def _search_dirs(conf_dir: Path | None) -> list[Path]:
    dirs = [conf_dir / "stonith" / "external"] if conf_dir is not None else []
    return [*dirs, SYSTEM_DIR]


def find_external(name: str, conf_dir: Path | None) -> Path | None:
    """The script for ``external/<name>``, or None when there is none."""
    if not name or name.startswith(".") or "/" in name:
        return None
    return find_program(name, _search_dirs(conf_dir))


def external_names(conf_dir: Path | None) -> list[str]:
    """Every ``external/<name>`` type installed (for ``stonith -L``)."""
    return sorted(f"{_PREFIX}{name}" for name in program_names(_search_dirs(conf_dir)))


class ExternalPlugin:
    """One ``external/NAME`` device with its parameters."""

    def __init__(self, name: str, script: Path, params: Mapping[str, str]) -> None:
        self.type = f"{_PREFIX}{name}"
        self.script = script
        self.params = dict(params)

    @classmethod
    def config_names(cls, script: Path, deadline: Deadline) -> tuple[str, ...] | Outcome:
        """Ask the script for its configuration names (an Outcome when that fails)."""
        plugin = cls(script.name, script, {})
        result = plugin._run(deadline, "getconfignames")
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.BADCONFIG, f"{plugin.type}: getconfignames", "no output")
        return failed if failed is not None else tuple(result.stdout.split())

    @classmethod
    def info(cls, script: Path, what: str, deadline: Deadline) -> str | None:
        """``getinfo-WHAT`` (devid, devdescr, xml...): the script's words, or None."""
        result = cls(script.name, script, {})._run(deadline, f"getinfo-{what}")
        if isinstance(result, Outcome) or result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def device_id(self) -> str:
        return self.type

    def hosts(self, deadline: Deadline) -> Outcome:
        result = self._run(deadline, "gethosts")
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.OOPS, f"{self.type}: gethosts", "no output")
        if failed is not None:
            return failed
        hosts = tuple(h.lower() for h in result.stdout.split())
        if not hosts:
            return Outcome(Code.OOPS, f"{self.type}: gethosts printed no host")
        return Outcome(Code.OK, f"{self.type} controls {' '.join(hosts)}", hosts)

    def status(self, deadline: Deadline) -> Outcome:
        result = self._run(deadline, "status")
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.ACCESS, f"{self.type}: status", "device not accessible")
        return failed if failed is not None else Outcome(Code.OK, f"{self.type} device OK")

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        result = self._run(deadline, action, host)
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.RESETFAIL, f"{self.type}: '{action} {host}'")
        return failed if failed is not None else Outcome(
            Code.OK, f"{self.type}: '{action} {host}' succeeded")

    def _run(self, deadline: Deadline, *args: str) -> ProgramResult | Outcome:
        refusal = unsafe_program(self.script)
        if refusal is not None:
            return Outcome(Code.ACCESS, f"{self.type}: {refusal}")
        env = dict(os.environ)
        env.update(self.params)
        env["HA_LOGTAG"] = self.type
        env["PATH"] = f"{_GLUE_SHARE}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        try:
            result = run_program([str(self.script), *args], deadline, env=env)
        except OSError as err:
            return Outcome(Code.OOPS, f"{self.type}: cannot run {self.script}: {err}")
        if result.timed_out:
            return Outcome(Code.TIMEOUT, f"{self.type}: '{' '.join(args)}' did not finish within "
                           f"{deadline.describe()}; killed")
        return result
