"""Starting in standby: the choice (flag, environment) and the intent it records."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.bus.messages.crmd import IntentSync
from cluster.crmd.intent import IntentStore
from cluster.crmd.memory import intent_file
from cluster.mcp.main import main
from cluster.mcp.startstate import ENV, enter_standby, wanted


@pytest.mark.parametrize(("flag", "environ", "expected"), [
    (False, {}, False),
    (True, {}, True),
    (False, {ENV: "standby"}, True),
    (False, {ENV: " Standby "}, True),
    (False, {ENV: "online"}, False),
    (True, {ENV: "default"}, True),
    (False, {ENV: ""}, False),
])
def test_the_flag_or_the_environment_asks_for_it(flag: bool, environ: dict[str, str],
                                                 expected: bool) -> None:
    assert wanted(flag, environ) is expected


def test_an_unknown_start_state_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="HA_NODE_START_STATE='stanby' is not one of "
                                         "default, online, standby"):
        wanted(False, {ENV: "stanby"})


def test_mcp_refuses_to_start_or_check_with_a_bad_start_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ha.cf").write_text("bcast eth0\nnode solo\n")
    (tmp_path / "authkeys").write_text("auth 1\n1 sha256 secret\n")
    (tmp_path / "authkeys").chmod(0o600)
    monkeypatch.setenv(ENV, "maybe")
    assert main(["-c", str(tmp_path), "--node", "solo", "--check"]) == 2
    assert "HA_NODE_START_STATE='maybe'" in capsys.readouterr().err


def _standby(state_dir: Path, node: str) -> tuple[str, str, float]:
    entry = IntentStore(intent_file(state_dir).load().entries).get("standby", "", node)
    assert entry is not None
    return entry.value, entry.boot, entry.expires


def test_standby_forever_is_recorded_once_and_kept_with_the_rest(tmp_path: Path) -> None:
    store = IntentStore()
    store.write("maintenance", "", "", "true", now=100.0, origin="node2")
    intent_file(tmp_path).save(IntentSync(store.entries()))
    assert "takes no resource group until 'crm_standby -N node1 -v off'" in \
        enter_standby(tmp_path, "node1")
    assert _standby(tmp_path, "node1") == ("on", "", 0.0)
    assert IntentStore(intent_file(tmp_path).load().entries).get("maintenance") is not None
    assert "already was" in enter_standby(tmp_path, "node1")


def test_a_reboot_lifetime_standby_becomes_forever(tmp_path: Path) -> None:
    store = IntentStore()
    store.write("standby", "", "node1", "on", now=100.0, origin="node2", boot="b1")
    intent_file(tmp_path).save(IntentSync(store.entries()))
    enter_standby(tmp_path, "node1")
    assert _standby(tmp_path, "node1") == ("on", "", 0.0)


def test_a_cleared_standby_is_overridden_by_a_newer_version(tmp_path: Path) -> None:
    """The peer's tombstone of an earlier crm_standby -v off must not win."""
    store = IntentStore()
    store.write("standby", "", "node1", "", now=4e9, origin="node2")
    intent_file(tmp_path).save(IntentSync(store.entries()))
    enter_standby(tmp_path, "node1")
    merged = IntentStore(intent_file(tmp_path).load().entries)
    assert not merged.merge(store.entries())
    assert merged.resolve(0.0, {}).standby == frozenset({"node1"})


def test_an_unwritable_state_dir_raises(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(OSError):
        enter_standby(tmp_path / "not-a-dir", "node1")
