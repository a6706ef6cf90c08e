"""The process template: its protocol, its staleness check, and a real template
forking a daemon that must look exactly like ``python3 -m`` started it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cluster.mcp.template import (
    ProtocolError,
    Sources,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)

_PYTHON = sys.executable
_ROOT = Path(__file__).resolve().parents[3]  # the tree our package is imported from


def test_a_request_survives_the_round_trip() -> None:
    request = decode_request(encode_request([_PYTHON, "-m", "cluster.ccm", "--node", "n1"],
                                            {"PATH": "/bin"}))
    assert request.argv == (_PYTHON, "-m", "cluster.ccm", "--node", "n1")
    assert request.env == {"PATH": "/bin"}
    assert decode_request(encode_request([_PYTHON, "-m", "cluster.ccm"], None)).env is None


@pytest.mark.parametrize("data", [
    b"\xff", b"[1]", b'{"argv": "python -m x"}', b'{"argv": ["python", "x.py", "a"]}',
    b'{"argv": ["python", "-m", 3]}', b'{"argv": ["python", "-m", "x"], "env": {"A": 1}}',
])
def test_a_bad_request_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_request(data)


def test_replies() -> None:
    assert decode_reply(encode_reply(pid=42)) == ("pid", 42)
    assert decode_reply(encode_reply(error="fork failed")) == ("error", "fork failed")
    assert decode_reply(encode_reply(stale="x.py changed")) == ("stale", "x.py changed")


@pytest.mark.parametrize("data", [b"", b"{}", b'{"pid": true}', b'{"pid": -1}',
                                  b'{"pid": 1, "error": "x"}', b'{"what": "x"}'])
def test_a_bad_reply_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_reply(data)


def test_a_loaded_module_changed_on_disk_makes_the_template_stale(tmp_path: Path) -> None:
    package = tmp_path / "tplpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "mod.py"
    module.write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        __import__("tplpkg.mod")
        sources = Sources(package)
        assert sources.changed() is None
        module.write_text("X = 22\n")
        assert sources.changed() == str(module)
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("tplpkg.mod", "tplpkg"):
            sys.modules.pop(name, None)


_PROBE = """\
import json, os, signal, sys
from setproctitle import getproctitle
print(json.dumps({
    "argv": sys.argv[1:], "main": sys.argv[0], "pid": os.getpid(), "ppid": os.getppid(),
    "pgid": os.getpgid(0), "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "title": getproctitle(), "env": os.environ.get("PROBE_ENV"),
    "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "term": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
    "hup": signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
    "stdin": os.readlink("/proc/self/fd/0"), "forked": "wave" in sys.modules,
}), flush=True)
sys.exit(7)
"""

_DRIVER = """\
import json, os, signal, sys, time
from cluster.mcp.children import ChildSpec
from cluster.mcp.spawner import Spawner, Template, become_subreaper

def until(done):
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done()

def spawn_and_reap():
    spec = ChildSpec(name="probe", argv=(sys.executable, "-m", "probe", "a b", "--x"),
                     user="root", builtin=True)
    with open(sys.argv[1], "ab") as out:
        pid = spawner.spawn(spec, out.fileno())
    reaped = []
    until(lambda: reaped.extend(spawner.reap()) or reaped)
    return pid, reaped

assert become_subreaper()
spawner = Spawner(Template.exec(["wave"], wait_ready=60), ["wave"])
template = spawner.template_pid
pid, reaped = spawn_and_reap()
report = {"driver": os.getpid(), "pid": pid, "reaped": reaped, "template": template}
if sys.argv[2] == "kill":
    os.kill(template, signal.SIGKILL)
    until(lambda: not list(spawner.reap()) and spawner.template_pid is None)
    report["respawned"] = spawn_and_reap()
    report["new_template"] = spawner.template_pid
    spawner.retire_template()
    until(lambda: not list(spawner.reap()) and spawner.template_pid is None)
    report["retired"] = spawn_and_reap()
if sys.argv[2] == "upgrade":
    import cluster
    stamp = os.stat(cluster.__file__).st_mtime_ns + 10**9
    os.utime(cluster.__file__, ns=(stamp, stamp))
    report["upgraded"] = spawn_and_reap()
    report["new_template"] = spawner.template_pid
spawner.close()
print(json.dumps(report))
"""


def _drive(tmp_path: Path, scenario: str, root: Path = _ROOT
           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the driver as its own process (it becomes a subreaper), our package
    imported from `root`; its report and what each probe it started saw."""
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("")
    (tmp_path / "probe" / "__main__.py").write_text(_PROBE)
    console = tmp_path / "probe.console"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{root}", "PROBE_ENV": "seen"}
    done = subprocess.run([_PYTHON, "-c", _DRIVER, str(console), scenario], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), [json.loads(line) for line in
                                     console.read_text().splitlines()]


def test_a_forked_daemon_is_set_up_as_exec_would_and_reaped_by_its_supervisor(
        tmp_path: Path) -> None:
    driver, (probe,) = _drive(tmp_path, "once")
    assert driver["reaped"] == [[driver["pid"], 7]]
    assert probe["pid"] == driver["pid"] != driver["template"]
    assert probe["ppid"] == driver["driver"], "not reparented to its subreaper"
    assert probe["pgid"] == probe["pid"]
    assert probe["argv"] == ["a b", "--x"]
    assert probe["main"] == str(tmp_path / "probe" / "__main__.py")
    assert probe["title"] == f"{_PYTHON} -m probe a b --x"
    assert probe["fds"] == [0, 1, 2, 3]  # 3: the listing of /proc/self/fd itself
    assert probe["stdin"] == "/dev/null"
    assert probe["env"] == "seen"
    assert probe["blocked"] == []
    assert probe["term"] and probe["hup"]
    assert probe["forked"], "not forked from the template (it preloaded `wave`)"


def test_a_killed_template_is_replaced_and_a_retired_one_leaves_exec(tmp_path: Path) -> None:
    driver, probes = _drive(tmp_path, "kill")
    first, respawned, retired = probes
    pid, reaped = driver["respawned"]
    assert reaped == [[pid, 7]] and respawned["pid"] == pid
    assert driver["new_template"] not in (None, driver["template"])
    pid, reaped = driver["retired"]
    assert reaped == [[pid, 7]] and retired["pid"] == pid
    assert retired["title"] == first["title"] and retired["argv"] == first["argv"]
    assert retired["ppid"] == driver["driver"]
    assert first["forked"] and not retired["forked"]


def test_after_an_upgrade_on_disk_the_daemon_is_exec_d_and_a_new_template_started(
        tmp_path: Path) -> None:
    installed = tmp_path / "site"
    shutil.copytree(_ROOT / "cluster", installed / "cluster",
                    ignore=shutil.ignore_patterns("__pycache__"))
    driver, (first, upgraded) = _drive(tmp_path, "upgrade", root=installed)
    assert first["forked"] and not upgraded["forked"]
    pid, reaped = driver["upgraded"]
    assert reaped == [[pid, 7]] and upgraded["pid"] == pid
    assert driver["new_template"] not in (None, driver["template"])
