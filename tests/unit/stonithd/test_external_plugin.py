"""The cluster-glue external plugin protocol, against tiny scripts in tmp_path."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cluster.stonithd.external import ExternalPlugin, find_external
from cluster.stonithd.outcome import Code, Deadline
from cluster.stonithd.registry import build_driver, config_names, list_types
from cluster.stonithd.runner import run_operation

pytestmark = pytest.mark.slow  # every test runs shell scripts

PLUGIN = """\
#!/bin/sh
log="$(dirname "$0")/calls"
echo "$* hostlist=[$hostlist] secret=[$secret] tag=$HA_LOGTAG" >> "$log"
case $1 in
getconfignames) echo hostlist; echo secret ;;
gethosts) for h in $hostlist; do echo $h; done ;;
status) [ -n "$secret" ] || { echo "no secret" >&2; exit 1; } ;;
reset|off) [ "$2" = bad ] && { echo "switch said no" >&2; exit 3; }; exit 0 ;;
on) exit 1 ;;
*) exit 1 ;;
esac
"""


def install(conf: Path, name: str, text: str, mode: int = 0o755) -> Path:
    directory = conf / "stonith" / "external"
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(text)
    script.chmod(mode)
    return script


def calls(conf: Path) -> list[str]:
    return (conf / "stonith" / "external" / "calls").read_text().splitlines()


def test_found_in_the_config_dir_and_listed(tmp_path: Path) -> None:
    install(tmp_path, "lab", PLUGIN)
    assert find_external("lab", tmp_path) == tmp_path / "stonith" / "external" / "lab"
    assert find_external("../lab", tmp_path) is None
    assert find_external("nope", tmp_path) is None
    assert "external/lab" in list_types(tmp_path)
    assert config_names("external/lab", tmp_path, Deadline(10)) == ("hostlist", "secret")


def test_positional_parameters_become_environment_variables(tmp_path: Path) -> None:
    install(tmp_path, "lab", PLUGIN)
    outcome = run_operation("external/lab", "check", 10, conf_dir=tmp_path,
                            positional="alice Bob  the secret words")
    assert outcome.code is Code.OK, outcome
    assert outcome.hosts == ("alice",)
    assert calls(tmp_path) == [
        "getconfignames hostlist=[] secret=[] tag=external/lab",
        "status hostlist=[alice] secret=[Bob  the secret words] tag=external/lab",
        "gethosts hostlist=[alice] secret=[Bob  the secret words] tag=external/lab",
    ]


def test_actions_and_their_result_codes(tmp_path: Path) -> None:
    install(tmp_path, "lab", PLUGIN)
    named = {"hostlist": "alice bad", "secret": "s"}
    assert run_operation("external/lab", "reset", 10, conf_dir=tmp_path, host="Alice",
                         named=named).code is Code.OK
    assert "reset alice hostlist=[alice bad] secret=[s] tag=external/lab" in calls(tmp_path)
    failed = run_operation("external/lab", "off", 10, conf_dir=tmp_path, host="bad",
                           named=named)
    assert failed.code is Code.RESETFAIL
    assert "exit 3" in failed.detail and "switch said no" in failed.detail
    assert run_operation("external/lab", "on", 10, conf_dir=tmp_path, host="alice",
                         named=named).code is Code.RESETFAIL
    no_secret = run_operation("external/lab", "status", 10, conf_dir=tmp_path,
                              named={"hostlist": "alice"})
    assert no_secret.code is Code.ACCESS and "no secret" in no_secret.detail


def test_empty_gethosts_is_an_error(tmp_path: Path) -> None:
    install(tmp_path, "lab", PLUGIN)
    outcome = run_operation("external/lab", "hosts", 10, conf_dir=tmp_path, named={})
    assert outcome.code is Code.OOPS and "no host" in outcome.detail


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_plugin_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    script = install(tmp_path, "lab", PLUGIN, mode)
    os.chmod(script, mode)
    outcome = run_operation("external/lab", "reset", 10, conf_dir=tmp_path, host="alice",
                            named={"hostlist": "alice"})
    assert outcome.code is Code.ACCESS
    assert "writable by group or others" in outcome.detail
    assert not (tmp_path / "stonith" / "external" / "calls").exists()


def test_a_hanging_plugin_is_killed_with_its_children_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    install(tmp_path, "hang", f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    driver = build_driver("external/hang", tmp_path, Deadline(5), named={})
    assert isinstance(driver, ExternalPlugin)
    started = time.monotonic()
    outcome = driver.act("reset", "alice", Deadline(0.5))
    assert 0.4 < time.monotonic() - started < 5
    assert outcome.code is Code.TIMEOUT and "killed" in outcome.detail
    child = int(pidfile.read_text())
    assert _dies(child, within=5.0), "the plugin's background child survived the kill"


def _dies(pid: int, within: float) -> bool:
    """SIGKILL is delivered asynchronously: on a busy box the child may take a moment."""
    deadline = time.monotonic() + within
    while not _dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it (it was killed with the session)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_unknown_type_and_missing_script(tmp_path: Path) -> None:
    assert run_operation("external/nothere", "status", 5, conf_dir=tmp_path,
                         positional="").code is Code.BADCONFIG
    assert run_operation("frobnicator", "status", 5, conf_dir=tmp_path,
                         positional="").code is Code.BADCONFIG
