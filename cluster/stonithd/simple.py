"""The built-in ``null``, ``ssh`` and ``meatware`` device types.

All three take one parameter, ``hostlist`` (names separated by spaces or
commas), as cluster-glue's do.

* ``null`` — for testing: every reset of a listed host "succeeds" without
  touching anything (glue logs ``Host null-reset: X``).  Its results say so,
  so nobody mistakes it for a fence.
* ``ssh`` — for testing: ``ssh root@HOST`` schedules ``reboot -nf`` with
  ``at now`` (glue's command), then the host must stop answering ping within
  :data:`SSH_DOWN_CHECKS` seconds or the reset is reported failed.  ``on``
  and ``off`` are not possible over ssh (INVAL).
* ``meatware`` — a person power-cycles the node and confirms with
  ``meatclient -c NODE``.  stonithd handles the waiting itself (the request
  stays pending until the confirmation or its timeout; see
  ``cluster.stonithd.service``); run locally by the ``stonith`` CLI there is
  nobody to confirm to, so an action is refused with a pointer to
  ``stonith --fence``.
"""

from __future__ import annotations

import time

from cluster.stonithd.outcome import Code, Deadline, Outcome
from cluster.stonithd.plugin import run_program

__all__ = ["MeatwareDevice", "NullDevice", "SshDevice", "parse_hostlist"]

SSH_COMMAND = ("ssh", "-q", "-x", "-o", "PasswordAuthentication=no",
               "-o", "StrictHostKeyChecking=no", "-n", "-l", "root")
REBOOT_COMMAND = "echo 'sleep 2; /sbin/reboot -nf' | SHELL=/bin/sh at now >/dev/null 2>&1"
SSH_DOWN_CHECKS = 15     # glue's external/ssh: 15 one-second pings before giving up


def parse_hostlist(text: str) -> tuple[str, ...]:
    hosts = tuple(h.lower() for h in text.replace(",", " ").split())
    if not hosts:
        raise ValueError("hostlist is empty: name the hosts this device controls")
    return hosts


class _HostlistDevice:
    type = ""

    def __init__(self, hostlist: str) -> None:
        self.hostlist = parse_hostlist(hostlist)

    def device_id(self) -> str:
        return self.type

    def hosts(self, deadline: Deadline) -> Outcome:
        return Outcome(Code.OK, f"{self.type} controls {' '.join(self.hostlist)}", self.hostlist)

    def status(self, deadline: Deadline) -> Outcome:
        return Outcome(Code.OK, f"{self.type} device OK")

    def _unknown(self, host: str) -> Outcome | None:
        if host.lower() in self.hostlist:
            return None
        return Outcome(Code.BADHOST, f"{self.type} does not control {host} "
                       f"(hostlist: {' '.join(self.hostlist)})")


class NullDevice(_HostlistDevice):
    type = "null"

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        refusal = self._unknown(host)
        if refusal is not None:
            return refusal
        return Outcome(Code.OK, f"Host null-{action}: {host} (null device, for testing: "
                       "nothing was powered off)")


class SshDevice(_HostlistDevice):
    type = "ssh"

    def reboot_argv(self, host: str) -> list[str]:
        return [*SSH_COMMAND, host, REBOOT_COMMAND]

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        refusal = self._unknown(host)
        if refusal is not None:
            return refusal
        if action != "reset":
            return Outcome(Code.INVAL, f"ssh cannot power {host} {action}, only reset it")
        try:
            result = run_program(self.reboot_argv(host), deadline)
        except OSError as err:
            return Outcome(Code.OOPS, f"ssh: cannot run ssh: {err}")
        if result.timed_out:
            return Outcome(Code.TIMEOUT, f"ssh to {host} did not finish in time")
        if result.returncode != 0:
            return Outcome(Code.RESETFAIL, f"ssh to {host} failed (exit {result.returncode}): "
                           f"{result.said() or 'no output'}")
        for _ in range(SSH_DOWN_CHECKS):
            if deadline.remaining() < 1.0:
                break
            ping = run_program(["ping", "-n", "-q", "-c", "1", "-W", "1", host], deadline)
            if ping.returncode not in (0, None):
                return Outcome(Code.OK, f"ssh: reboot of {host} scheduled and it stopped "
                               "answering ping")
            time.sleep(deadline.cap(1.0))
        return Outcome(Code.RESETFAIL, f"ssh: {host} still answers ping after the reboot command")


class MeatwareDevice(_HostlistDevice):
    type = "meatware"

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        refusal = self._unknown(host)
        if refusal is not None:
            return refusal
        return Outcome(Code.INVAL, "meatware needs an operator's confirmation through the "
                       f"running stonithd: run 'stonith --fence {host}' there, power-cycle "
                       f"{host}, then 'meatclient -c {host}'")
