"""The README's "Install and try it" commands, run as written on a fresh clone.

git stores every file of a checkout with mode 0644 (umask 022), which is what
a newcomer gets; the configuration commands of the section must work on
exactly that. ``pip install`` and the demo (root, namespaces, a minute) are
left out: CI installed the package already and the lab tests cover the demo.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_SKIPPED = ("pip install", "python3 -m cluster.lab.demo")


def readme_commands(text: str) -> list[str]:
    """The shell lines of the first ``sh`` block under "## Install and try it"."""
    section = text.split("## Install and try it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no sh block in the README's install section"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout")  # fmt: skip
def test_the_configuration_commands_work_on_a_fresh_clone(tmp_path: Path) -> None:
    commands = readme_commands((ROOT / "README.md").read_text())
    run = [c for c in commands if not c.startswith(_SKIPPED)]
    assert any(c.startswith("cluster-mcp --check") for c in run), commands
    clone = tmp_path / "clone"
    # safe.directory: CI may own the checkout as another user than the test's.
    clone_cmd = 'umask 022 && git -c safe.directory="*" clone -q "$0" "$1"'
    subprocess.run(["sh", "-c", clone_cmd, str(ROOT), str(clone)], check=True, timeout=120)
    script = "set -eu\n" + "\n".join(run) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=clone, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Resource groups (1" in done.stdout
    assert (clone / "ha.d" / "authkeys").stat().st_mode & 0o777 == 0o600


def test_a_copied_example_keeps_the_0600_rule(tmp_path: Path) -> None:
    """The commands work because they make a private authkeys, not because the check
    became lenient: the same copy with a world-readable authkeys is refused."""
    conf = tmp_path / "ha.d"
    shutil.copytree(ROOT / "examples" / "two-node", conf)
    keys = conf / "authkeys"
    keys.write_text("auth 1\n1 sha256 0123456789abcdef\n")
    keys.chmod(0o644)
    done = subprocess.run(["cluster-mcp", "--check", "-c", str(conf)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert f"{keys}: mode 0644 is too open" in done.stderr
