"""The ``stonith`` command line, run in-process: options, output and cluster-glue's exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.cli.stonith import main
from cluster.lab.rps10 import Rps10Simulator
from cluster.stonithd.simple import REBOOT_COMMAND, SshDevice

HANG = ("#!/bin/sh\n"
        "case $1 in getconfignames) echo hostlist ;; gethosts) echo a ;; *) sleep 30 ;; esac\n")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_types_and_parameter_names(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    (tmp_path / "stonith").mkdir()
    agent = tmp_path / "stonith" / "fence_lab"
    agent.write_text("#!/bin/sh\nexit 0\n")
    agent.chmod(0o755)
    code, out, _ = run(capsys, "-L", "-C", str(tmp_path))
    types = out.split()
    assert code == 0 and {"null", "ssh", "meatware", "rps10", "fence_lab"} <= set(types)
    assert types == sorted(types)
    assert run(capsys, "-t", "rps10", "-n")[:2] == (0, "serial_to_targets\n")
    assert run(capsys, "-t", "null", "-n")[:2] == (0, "hostlist\n")
    code, out, _ = run(capsys, "-t", "meatware", "-h")
    assert code == 0 and "meatclient" in out


def test_status_hosts_and_reset_with_null(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-t", "null", "-p", "Alice bob", "-S", "-l")
    assert (code, out) == (0, "alice\nbob\n")
    assert "info: null device OK." in err
    code, _, err = run(capsys, "-t", "null", "hostlist=alice bob", "ALICE")
    assert code == 0 and "node alice now reset" in err
    code, _, err = run(capsys, "-s", "-t", "null", "hostlist=alice", "-T", "off", "alice")
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("argv", "code", "text"), [
    (["-t", "null", "-p", "alice", "carol"], 4, "does not control carol"),
    (["-t", "null", "alice"], 1, "exactly one of -p, -F or name=value"),
    (["-t", "null", "-p", "a", "b", "c"], 1, "only one node"),
    (["-t", "null", "-p", "a"], 1, "nothing to do"),
    (["-t", "null", "-p", "", "-S"], 1, "missing parameter hostlist"),
    (["-t", "bogus", "-p", "x", "-S"], 1, "unknown device type 'bogus'"),
    (["-t", "ssh", "-p", "alice", "-T", "on", "alice"], 3, "only reset"),
    (["-t", "meatware", "-p", "alice", "alice"], 3, "meatclient -c alice"),
    (["-t", "rps10", "-p", "/nonexistent/tty alice 0", "-S"], 8, "device not accessible"),
    (["--frobnicate"], 1, "unrecognized arguments"),
    ([], 1, "give -L, --fence, --devices or -t TYPE"),
])
def test_exit_codes(capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                    text: str) -> None:
    if code == 1 and argv[:1] == ["--frobnicate"]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 1
        assert text in capsys.readouterr().err
        return
    got, _out, err = run(capsys, *argv)
    assert got == code, err
    assert text in err


@pytest.mark.slow
def test_a_hanging_plugin_times_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plugins = tmp_path / "stonith" / "external"
    plugins.mkdir(parents=True)
    (plugins / "hang").write_text(HANG)
    (plugins / "hang").chmod(0o755)
    code, _, err = run(capsys, "-C", str(tmp_path), "-t", "external/hang", "-p", "a",
                       "--timeout", "0.5", "a")
    assert code == 6 and "TIMEOUT" in err


@pytest.mark.slow
def test_rps10_reset_through_the_simulator_with_a_parameter_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    class Target:
        calls: list[str] = []

        def power_off(self) -> None:
            self.calls.append("off")

        def power_on(self) -> None:
            self.calls.append("on")

    target = Target()
    switch = Rps10Simulator({"2": target}, path=tmp_path / "ttyS0", toggle_delay=0.01)
    try:
        params = tmp_path / "rps10.cfg"
        params.write_text(f"# our switch\n{switch.path} bob 2\n")
        code, _, err = run(capsys, "-t", "rps10", "-F", str(params), "-S", "-c", "2", "bob")
    finally:
        switch.close()
    assert code == 0, err
    assert target.calls == ["off"]
    assert switch.commands == [("2", "T")]


def test_fence_without_a_running_stonithd(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    code, _, err = run(capsys, "--fence", "bob", "--run-dir", str(tmp_path))
    assert code == 8 and "stonithd is not running" in err
    assert run(capsys, "--devices", "--run-dir", str(tmp_path))[0] == 8


def test_ssh_reboots_through_at(capsys: pytest.CaptureFixture[str]) -> None:
    device = SshDevice("alice, Bob")
    assert device.hostlist == ("alice", "bob")
    argv = device.reboot_argv("bob")
    assert argv[0] == "ssh" and argv[-2:] == ["bob", REBOOT_COMMAND]
    assert "-l" in argv and argv[argv.index("-l") + 1] == "root"
    assert "at now" in REBOOT_COMMAND and "reboot -nf" in REBOOT_COMMAND
