"""crm_resource and the attribute tools without a stack: durations, usage errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.cli.crm_attribute import main_attribute, main_failcount, main_node, main_standby
from cluster.cli.crm_resource import main as crm_resource
from cluster.common.isoduration import parse_duration, parse_seconds


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT1H", 3600), ("PT30M", 1800), ("PT10S", 10), ("P1D", 86400), ("P1DT12H", 129600),
    ("P2W", 1209600), ("PT0.5S", 0.5), ("pt1h", 3600), ("P1M", 30 * 86400)])
def test_iso_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "PT1H30", "P1DT", "PT0S", "-PT1H"])
def test_bad_iso_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("60", 60), ("60s", 60), ("500ms", 0.5), ("2min", 120), ("PT1M", 60)])
def test_timeouts(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("argv", [
    ["--move"], ["--locate"], ["--list", "--ban"], ["--ban", "-r", "g", "--lifetime", "1h"],
    ["--cleanup", "--lifetime", "PT1H"], ["--wait", "-T", "soon"]])
def test_crm_resource_usage_errors_exit_2(argv: list[str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        crm_resource(["--run-dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert "crm_resource: error:" in capsys.readouterr().err


def test_tools_say_the_stack_is_not_running(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = ["--run-dir", str(tmp_path)]
    assert crm_resource([*run, "--list"]) == 12
    assert main_node([*run, "-l"]) == 12
    assert main_standby([*run, "-v", "on"]) == 12
    assert main_failcount([*run, "-r", "g"]) == 12
    assert main_attribute([*run, "-n", "maintenance-mode", "-G"]) == 12
    assert "the cluster stack is not running" in capsys.readouterr().err


def test_crm_attribute_refuses_other_options(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main_attribute(["--run-dir", str(tmp_path), "-n", "stonith-enabled", "-v", "false"])
    assert exc.value.code == 1
    assert "only maintenance-mode" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main_attribute(["--run-dir", str(tmp_path), "-n", "maintenance-mode", "-v", "maybe"])
    assert exc.value.code == 2
