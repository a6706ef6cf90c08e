"""crm_status for the tools admins point at it: Pacemaker's schema and ha_cluster_exporter.

A two-node site (service address and web server, RPS-10 fencing) is taken
through four states: both online, one in standby, a failed monitor (the web
server killed), one node dead.  In each, ``crm_status --output-as=xml`` from
a live node must pass ``xmllint --relaxng`` against Pacemaker's
``api-result-2.25.rng``, and Debian's ``ha_cluster_exporter`` (running inside
the node, on 127.0.0.1, with ``--crm-mon-path`` and ``--cibadmin-path``
pointing at wrappers around our crm_status and cibadmin, the other
collectors pointed at nothing) must report a successful pacemaker scrape
with node and resource gauges that match the cluster as crmd reports it.
After the failure, ``crm_status -f -i 0.2 --count 2`` shows the Migration
Summary and the last change twice.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.bus.messages.crmd import StatusResult
from cluster.cli.status.pacemaker_xml import API_VERSION
from cluster.lab import Lab, Node, wait_for
from cluster.lab.site import Site, SiteOptions

SCHEMA = Path(f"/usr/share/pacemaker/api/api-result-{API_VERSION}.rng")
EXPORTER = "/usr/bin/ha_cluster_exporter"
_PORT = 9664                 # the exporter's own; each node has its own loopback
_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(
    not (SCHEMA.exists() and shutil.which("xmllint") and os.access(EXPORTER, os.X_OK)),
    reason="needs pacemaker-common, libxml2-utils and prometheus-hacluster-exporter "
           "(.ci/run installs them)")


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    new = Site(lab, SiteOptions(nodes=2, serial=False, ipfail=False, watchdog=False,
                                filesystem=False))
    try:
        yield new
    finally:
        new.close()
    new.assert_safe()


def _wrapper(node: Node, tool: str) -> Path:
    path = node.dir / f"{tool}-wrapper"
    path.write_text(f'#!/bin/sh\nexec {sys.executable} -m cluster.cli.{tool} '
                    f'--run-dir {node.run_dir} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


def _validate(node: Node) -> str:
    """crm_status's XML on `node`, checked against Pacemaker's schema."""
    xml = _crm_status(node, "--output-as=xml")
    doc = node.dir / "status.xml"
    doc.write_text(xml, encoding="utf-8")
    lint = subprocess.run(["xmllint", "--noout", "--relaxng", str(SCHEMA), str(doc)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert lint.returncode == 0, f"{node.name}: {lint.stderr}\n{xml}"
    return xml


def _crm_status(node: Node, *args: str) -> str:
    return node.run([sys.executable, "-m", "cluster.cli.crm_status", "--run-dir",
                     str(node.run_dir), *args], timeout=30).stdout


class Exporter:
    """ha_cluster_exporter inside one node, scraped from inside it."""

    def __init__(self, node: Node) -> None:
        self.node = node
        none = str(node.dir / "absent")
        self.proc = node.spawn([
            EXPORTER, f"--web.listen-address=127.0.0.1:{_PORT}",
            f"--crm-mon-path={_wrapper(node, 'crm_status')}",
            f"--cibadmin-path={_wrapper(node, 'cibadmin')}",
            f"--corosync-cfgtoolpath-path={none}", f"--corosync-quorumtool-path={none}",
            f"--sbd-path={none}", f"--sbd-config-path={none}", f"--drbdsetup-path={none}",
            f"--drbdsplitbrain-path={none}"])

    def scrape(self) -> dict[str, float]:
        """Every sample, keyed by ``name{labels}`` with labels sorted as exposed."""
        code = (f"import urllib.request; print(urllib.request.urlopen("
                f"'http://127.0.0.1:{_PORT}/metrics', timeout=20).read().decode())")
        done = self.node.run([sys.executable, "-c", code], check=False, timeout=40)
        if done.returncode != 0:
            return {}
        samples = {}
        for line in done.stdout.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                samples[key] = float(value)
        return samples

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def _gauge(samples: dict[str, float], name: str, **labels: str) -> float | None:
    """The one sample of `name` whose labels include `labels`."""
    found = [v for k, v in samples.items() if (k == name or k.startswith(name + "{"))
             and all(f'{label}="{value}"' in k for label, value in labels.items())]
    assert len(found) <= 1, f"{name} {labels}: {len(found)} samples"
    return found[0] if found else None


def _status(site: Site, name: str) -> StatusResult:
    status = site.status(name)
    assert status is not None, f"{name}: crmd does not answer"
    return status


def _check_exporter(site: Site, name: str, exporter: Exporter) -> dict[str, float]:
    """A successful scrape whose gauges match crmd's own status on `name`."""
    samples: dict[str, float] = {}

    def scraped() -> bool:
        nonlocal samples
        samples = exporter.scrape()
        return _gauge(samples, "ha_cluster_scrape_success", collector="pacemaker") == 1

    try:
        wait_for(scraped, _TIMEOUT, interval=0.5, message="a successful pacemaker scrape")
    except TimeoutError as exc:
        console = (exporter.node.log_dir / "console").read_text(errors="replace")[-3000:]
        raise AssertionError(f"{exc}\nexporter console:\n{console}") from None
    status = _status(site, name)
    for node in status.nodes:
        def flag(state: str, node: str = node.name) -> float | None:
            return _gauge(samples, "ha_cluster_pacemaker_nodes", node=node, status=state)
        assert flag("online") == float(node.member), (node, samples)
        assert flag("standby") == float(bool(node.standby)), node
        assert flag("dc") == float(node.name == status.dc), node
    for res in status.resources:
        active = _gauge(samples, "ha_cluster_pacemaker_resources", resource=res.id,
                        group=res.group, status="active")
        assert active == float(res.node is not None), (res, samples)
        if res.node is not None:
            assert _gauge(samples, "ha_cluster_pacemaker_resources", resource=res.id,
                          node=res.node, role="started", status="active") == 1
    for count in status.fail_counts:
        assert _gauge(samples, "ha_cluster_pacemaker_fail_count", node=count.node,
                      resource=count.group) == count.count
    assert _gauge(samples, "ha_cluster_pacemaker_stonith_enabled") == float(status.stonith)
    assert status.last_change is not None
    # crm_mon prints local time; the exporter reads it as UTC (Go's time.Parse)
    as_utc = calendar.timegm(time.localtime(int(status.last_change.when)))
    assert _gauge(samples, "ha_cluster_pacemaker_config_last_change") == as_utc
    return samples


def test_xml_and_exporter_in_four_states(site: Site) -> None:
    site.start()
    site.audit(up=site.names, holder="node1")
    n2 = site.nodes["node2"]
    exporters = {name: Exporter(node) for name, node in site.nodes.items()}

    # 1. both online
    for name in site.names:
        xml = _validate(site.nodes[name])
        assert f'api-version="{API_VERSION}"' in xml
        _check_exporter(site, name, exporters[name])

    # 2. node1 in standby: the group moves, the last change names the tool and node
    assert site.tool("node1", "standby").returncode == 0
    site.audit(up=site.names, holder="node2")
    wait_for(lambda: (c := _status(site, "node2").last_change) is not None
             and c.tool == "hb_standby" and c.node == "node1", _TIMEOUT,
             interval=0.1, message="node2 sees node1's standby as the last change")
    for name in site.names:
        assert 'client="hb_standby" origin="node1"' in _validate(site.nodes[name])
        samples = _check_exporter(site, name, exporters[name])
        assert _gauge(samples, "ha_cluster_pacemaker_nodes", node="node1",
                      status="standby") == 1

    # 3. a failed monitor: kill the web server where it runs
    pid = int((n2.run_dir / "httpd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _status(site, "node2").failed_actions
             and _status(site, "node2").fail_counts, _TIMEOUT, interval=0.1,
             message="the failed monitor and the fail count in node2's status")
    site.audit(up=site.names, holder="node2")
    assert re.search(r'<failure op_key="httpd_monitor_\d+"', _validate(n2))
    samples = _check_exporter(site, "node2", exporters["node2"])
    key = _status(site, "node2").groups[0]
    assert _gauge(samples, "ha_cluster_pacemaker_fail_count", node="node2", resource=key) == 1
    text = _crm_status(n2, "-f", "-i", "0.2", "--count", "2")
    first, _, second = text.partition("\f")
    for picture in (first, second):
        assert "Migration Summary:\n  * Node: node2:\n" in picture
        assert f"    * {key}: migration-threshold=3 fail-count=1 last-failure=" in picture
        assert "by hb_standby on node1" in picture

    # 4. node1 dead (fenced by node2's switch)
    exporters["node1"].stop()
    site.power_off("node1")
    site.audit(up=["node2"], holder="node2")
    wait_for(lambda: not _status(site, "node2").nodes[0].unclean, _TIMEOUT, interval=0.1,
             message="node1 fenced and clean")
    assert '<node name="node1" id="node1" online="false"' in _validate(n2)
    samples = _check_exporter(site, "node2", exporters["node2"])
    assert _gauge(samples, "ha_cluster_pacemaker_nodes", node="node1", status="online") == 0
    exporters["node2"].stop()
