"""Filesystem, script and OCF agents as procedures, fed canned command results."""

from __future__ import annotations

import os
from pathlib import Path

from cluster.crmd.agents.filesystem import FilesystemAgent
from cluster.crmd.agents.ocf import OcfAgent
from cluster.crmd.agents.protocol import (
    AgentPaths,
    Command,
    Completed,
    OpRequest,
    Outcome,
    Sleep,
)
from cluster.crmd.agents.script import ScriptAgent

from .agentkit import drive, write_script

START = OpRequest("start", 0.0, 20.0)
STOP = OpRequest("stop", 0.0, 20.0)
MONITOR = OpRequest("monitor", 0.0, 20.0)


class FakeMounts:
    """``/proc/self/mounts`` that the fake mount/umount/fuser change."""

    def __init__(self) -> None:
        self.mounted: list[str] = []
        self.busy_rounds = 0  # umount attempts that fail with "target is busy"
        self.argvs: list[tuple[str, ...]] = []

    def text(self) -> str:
        return "".join(f"tmpfs {point} tmpfs rw 0 0\n" for point in self.mounted)

    def respond(self, command: Command) -> Completed:
        argv = command.argv
        self.argvs.append(argv)
        if argv[0] == "mount":
            self.mounted.append(argv[-1])
            return Completed(0)
        if argv[0] == "umount":
            if self.busy_rounds > 0:
                self.busy_rounds -= 1
                return Completed(32, stderr=f"umount: {argv[1]}: target is busy.")
            self.mounted.remove(argv[1])
            return Completed(0)
        return Completed(0)  # fuser


def test_filesystem_start_monitor_stop(tmp_path: Path) -> None:
    fake = FakeMounts()
    point = str(tmp_path / "mnt")
    agent = FilesystemAgent(("tmpfs", point, "tmpfs", "size=1m"), fake.text)
    assert drive(agent.execute(MONITOR), fake.respond)[0].outcome is Outcome.NOT_RUNNING
    reply, steps = drive(agent.execute(START), fake.respond)
    assert reply.outcome is Outcome.OK
    assert os.path.isdir(point)  # created
    assert steps == [Command(("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", point))]
    reply, steps = drive(agent.execute(START), fake.respond)
    assert (reply.outcome, steps) == (Outcome.OK, [])  # already mounted: nothing run
    assert drive(agent.execute(MONITOR), fake.respond)[0].outcome is Outcome.OK
    reply, steps = drive(agent.execute(STOP), fake.respond)
    assert reply.outcome is Outcome.OK and steps == [Command(("umount", point))]
    reply, steps = drive(agent.execute(STOP), fake.respond)
    assert (reply.outcome, steps) == (Outcome.OK, [])


def test_filesystem_stop_kills_users_of_a_busy_mount(tmp_path: Path) -> None:
    fake = FakeMounts()
    point = str(tmp_path)
    fake.mounted.append(point)
    fake.busy_rounds = 2
    reply, steps = drive(FilesystemAgent(("tmpfs", point), fake.text).execute(STOP), fake.respond)
    assert reply.outcome is Outcome.OK
    fuser = Command(("fuser", "-k", "-m", point))
    umount = Command(("umount", point))
    assert steps == [umount, fuser, Sleep(0.1), umount, fuser, Sleep(0.2), umount]


def test_filesystem_stop_fails_rather_than_lazy_unmount(tmp_path: Path) -> None:
    fake = FakeMounts()
    fake.mounted.append(str(tmp_path))
    fake.busy_rounds = 100
    reply, steps = drive(
        FilesystemAgent(("tmpfs", str(tmp_path)), fake.text).execute(STOP), fake.respond
    )
    assert reply.outcome is Outcome.FAILED and "busy" in reply.detail
    assert all("-l" not in step.argv for step in steps if isinstance(step, Command))


def test_filesystem_mount_failure_and_missing_mount(tmp_path: Path) -> None:
    agent = FilesystemAgent(("/dev/nope", str(tmp_path)), lambda: "")
    reply, _ = drive(
        agent.execute(START), lambda c: Completed(32, stderr="mount: special device missing")
    )
    assert (reply.outcome, reply.rc) == (Outcome.FAILED, 32)
    assert "special device" in reply.detail
    reply, _ = drive(agent.execute(START), lambda c: Completed(None, error="mount: not found"))
    assert reply.outcome is Outcome.NOT_INSTALLED
    bad = FilesystemAgent(("/dev/sdb1",), lambda: "")
    assert drive(bad.execute(START), lambda c: Completed(0))[0].outcome is Outcome.CONFIG_ERROR
    assert drive(bad.execute(STOP), lambda c: Completed(0))[0].outcome is Outcome.OK


def _script_agent(tmp_path: Path, *args: str) -> ScriptAgent:
    write_script(tmp_path / "conf" / "resource.d" / "web", "exit 0\n")
    return ScriptAgent("web", args, AgentPaths(tmp_path / "conf", init_dir=tmp_path / "init.d"))


def test_script_start_checks_status_first(tmp_path: Path) -> None:
    agent = _script_agent(tmp_path, "8080")
    script = str(tmp_path / "conf" / "resource.d" / "web")

    def running(command: Command) -> Completed:
        return Completed(0, stdout="web is running")

    reply, steps = drive(agent.execute(START), running)
    assert reply.outcome is Outcome.OK
    assert steps == [Command((script, "8080", "status"))]

    def stopped_then_start(command: Command) -> Completed:
        return Completed(3) if command.argv[-1] == "status" else Completed(0)

    reply, steps = drive(agent.execute(START), stopped_then_start)
    assert reply.outcome is Outcome.OK
    assert [s.argv[-1] for s in steps if isinstance(s, Command)] == ["status", "start"]


def test_script_failed_stop_of_a_stopped_resource_is_ok(tmp_path: Path) -> None:
    agent = _script_agent(tmp_path)

    def stop_fails_status_stopped(command: Command) -> Completed:
        if command.argv[-1] == "stop":
            return Completed(1, stderr="no pid file")
        return Completed(3, stdout="web is stopped")

    reply, _ = drive(agent.execute(STOP), stop_fails_status_stopped)
    assert reply.outcome is Outcome.OK and "not LSB-compliant" in reply.detail

    def stop_fails_still_running(command: Command) -> Completed:
        if command.argv[-1] == "stop":
            return Completed(1, stderr="cannot kill")
        return Completed(0, stdout="web is running")

    reply, _ = drive(agent.execute(STOP), stop_fails_still_running)
    assert (reply.outcome, reply.rc) == (Outcome.FAILED, 1)


def test_script_lookup_prefers_resource_d_then_init_d(tmp_path: Path) -> None:
    paths = AgentPaths(tmp_path / "conf", init_dir=tmp_path / "init.d")
    agent = ScriptAgent("svc", (), paths)
    reply, _ = drive(agent.execute(MONITOR), lambda c: Completed(0))
    assert reply.outcome is Outcome.NOT_INSTALLED
    assert str(tmp_path / "conf" / "resource.d" / "svc") in reply.detail
    assert str(tmp_path / "init.d" / "svc") in reply.detail
    write_script(tmp_path / "init.d" / "svc", "exit 0\n")
    _, steps = drive(agent.execute(MONITOR), lambda c: Completed(0))
    assert steps == [Command((str(tmp_path / "init.d" / "svc"), "status"))]
    write_script(tmp_path / "conf" / "resource.d" / "svc", "exit 0\n")
    _, steps = drive(agent.execute(MONITOR), lambda c: Completed(0))
    assert steps == [Command((str(tmp_path / "conf" / "resource.d" / "svc"), "status"))]
    (tmp_path / "conf" / "resource.d" / "svc").chmod(0o644)  # not executable: skipped
    _, steps = drive(agent.execute(MONITOR), lambda c: Completed(0))
    assert steps == [Command((str(tmp_path / "init.d" / "svc"), "status"))]


def _ocf_paths(tmp_path: Path) -> AgentPaths:
    write_script(tmp_path / "ocf" / "resource.d" / "acme" / "vip", "exit 0\n")
    return AgentPaths(tmp_path / "conf", ocf_root=tmp_path / "ocf", ha_rsctmp=tmp_path / "rsc")


def test_ocf_environment_and_exit_reason(tmp_path: Path) -> None:
    paths = _ocf_paths(tmp_path)
    agent = OcfAgent("acme", "vip", "web-ip", {"ip": "10.0.0.5"}, paths)
    request = OpRequest("monitor", 10.0, 30.0)

    def fails(command: Command) -> Completed:
        return Completed(6, stderr="noise\nocf-exit-reason:nic eth9 not found\nmore noise\n")

    reply, steps = drive(agent.execute(request), fails)
    assert (reply.outcome, reply.rc, reply.detail) == (
        Outcome.CONFIG_ERROR,
        6,
        "nic eth9 not found",
    )
    assert (tmp_path / "rsc").is_dir()
    (step,) = steps
    assert isinstance(step, Command)
    assert step.argv == (str(tmp_path / "ocf" / "resource.d" / "acme" / "vip"), "monitor")
    env = step.env
    assert env["OCF_ROOT"] == str(tmp_path / "ocf")
    assert (env["OCF_RA_VERSION_MAJOR"], env["OCF_RA_VERSION_MINOR"]) == ("1", "1")
    assert env["OCF_RESOURCE_INSTANCE"] == "web-ip"
    assert (env["OCF_RESOURCE_TYPE"], env["OCF_RESOURCE_PROVIDER"]) == ("vip", "acme")
    assert env["OCF_RESKEY_ip"] == "10.0.0.5"
    assert env["OCF_RESKEY_CRM_meta_name"] == "monitor"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "30000"
    assert env["OCF_RESKEY_CRM_meta_interval"] == "10000"
    assert env["OCF_EXIT_REASON_PREFIX"] == "ocf-exit-reason:"
    assert env["HA_RSCTMP"] == str(tmp_path / "rsc")


def test_ocf_outcomes_and_details(tmp_path: Path) -> None:
    agent = OcfAgent("acme", "vip", "x", {}, _ocf_paths(tmp_path))
    reply, _ = drive(agent.execute(MONITOR), lambda c: Completed(7))
    assert (reply.outcome, reply.detail) == (Outcome.NOT_RUNNING, "")
    reply, _ = drive(agent.execute(START), lambda c: Completed(1, stderr="ERROR: it broke\n"))
    assert (reply.outcome, reply.detail) == (Outcome.FAILED, "ERROR: it broke")
    reply, _ = drive(agent.execute(STOP), lambda c: Completed(-9))
    assert reply.outcome is Outcome.FAILED and "signal 9" in reply.detail


def test_ocf_missing_agent_is_not_installed(tmp_path: Path) -> None:
    agent = OcfAgent("acme", "nothere", "x", {}, _ocf_paths(tmp_path))
    reply, steps = drive(agent.execute(START), lambda c: Completed(0))
    assert reply.outcome is Outcome.NOT_INSTALLED and steps == []
    assert str(tmp_path / "ocf" / "resource.d" / "acme" / "nothere") in reply.detail


def test_legacy_ocf_reads_its_params_file(tmp_path: Path) -> None:
    paths = _ocf_paths(tmp_path)
    params = tmp_path / "conf" / "conf" / "OCF" / "vip" / "web"
    agent = OcfAgent("acme", "vip", "web", {}, paths, params_file=params)
    reply, _ = drive(agent.execute(START), lambda c: Completed(0))
    assert reply.outcome is Outcome.CONFIG_ERROR and str(params) in reply.detail
    reply, steps = drive(agent.execute(STOP), lambda c: Completed(0))
    assert reply.outcome is Outcome.OK and len(steps) == 1  # stop runs anyway
    params.parent.mkdir(parents=True)
    params.write_text("ip=10.0.0.5\ncidr_netmask=24\n")
    reply, steps = drive(agent.execute(START), lambda c: Completed(0))
    assert reply.outcome is Outcome.OK
    (step,) = steps
    assert isinstance(step, Command)
    assert (step.env["OCF_RESKEY_ip"], step.env["OCF_RESKEY_cidr_netmask"]) == ("10.0.0.5", "24")
    assert step.env["OCF_RESOURCE_INSTANCE"] == "web"


def test_ocf_ipaddr2_reannounce_runs_its_arp_refresh(tmp_path: Path) -> None:
    """IPaddr2's monitor re-sends its ARP when arp_count_refresh > 0: the start's count."""
    write_script(tmp_path / "ocf" / "resource.d" / "heartbeat" / "IPaddr2", "exit 0\n")
    paths = AgentPaths(tmp_path / "conf", ocf_root=tmp_path / "ocf", ha_rsctmp=tmp_path / "rsc")
    request = OpRequest("reannounce", 0.0, 20.0)
    for params, count in (({"ip": "10.0.0.5"}, "5"), ({"ip": "10.0.0.5", "arp_count": "3"}, "3")):
        agent = OcfAgent("heartbeat", "IPaddr2", "vip", params, paths)
        reply, steps = drive(agent.execute(request), lambda c: Completed(0))
        assert reply.outcome is Outcome.OK
        (step,) = steps
        assert isinstance(step, Command) and step.argv[1:] == ("monitor",)
        assert step.env["OCF_RESKEY_arp_count_refresh"] == count
        assert step.env["OCF_RESKEY_CRM_meta_name"] == "monitor"
        assert step.env["OCF_RESKEY_CRM_meta_interval"] == "0"
    reply, _ = drive(agent.execute(request), lambda c: Completed(7))
    assert reply.outcome is Outcome.NOT_RUNNING


def test_ocf_agents_without_an_arp_refresh_cannot_reannounce(tmp_path: Path) -> None:
    agent = OcfAgent("acme", "vip", "x", {}, _ocf_paths(tmp_path))
    reply, steps = drive(agent.execute(OpRequest("reannounce", 0.0, 20.0)), lambda c: Completed(0))
    assert reply.outcome is Outcome.UNIMPLEMENTED and steps == []
