"""cluster-web in a real headless Chromium against a live two-node cluster.

Both nodes run the stack with ``web 0.0.0.0:7630``.  Debian's Chromium runs
inside the lab's client host (``ip netns exec``; Playwright drives it over a
pipe, nothing is downloaded) and talks HTTPS to node2's public address.  Two
throwaway Unix users with passwords, one in ``haclient`` and one in the
read-only group, are created for the test and removed afterwards.

One test, in order: log in; both nodes, the group on node1, the ping node (the
lab's router) and a Mon service (cluster-mon on node2 pinging the router)
show; standby node1 (confirmed in the dialog), online again, take over
(confirmed); move the group there and back and clear the move (confirmed); a
killed web server's failed monitor shows and "Clean up" clears it;
maintenance mode on and off (both confirmed); the
logs view shows crmd's lines through a filter; /metrics passes ``promtool
check metrics``; a POST without the CSRF token gets 403; the read-only user
sees no action button and its POST gets 403; at a 390 px phone viewport no
view scrolls sideways; the daemon's CPU with a page open and the page's
weight are measured; node1 is powered off and the page, without a reload,
shows node1 offline, the group on node2 and a timeline entry with the
outage, within 2 s of the service answering again; node2's cluster-web is
killed and respawned: the operator's session (no second login), the viewer's
role and the kept timeline (every entry as before, the fencing too) survive;
node1 comes back: its own dashboard shows the death and the fencing it missed
(node2's stonithd did it), and node2's page, on node1's logs, shows node1's
login line live; a logged-out cookie stays refused; no console error or CSP
violation happened (but the cut streams of the killed server); node2's stack
stops cleanly with the pages still open.
With ``CLUSTER_WEB_SCREENSHOTS=DIR`` the overview, a host, the timeline and
the phone layout are saved there (docs/ holds them).
"""

from __future__ import annotations

import grp
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cluster.lab import Lab, Node, wait_for
from cluster.lab.netns import cpu_seconds
from cluster.lab.site import Site, SiteOptions

CHROMIUM = "/usr/bin/chromium"
PORT = 7630
_TIMEOUT = 60.0
_UI_MS = 30_000
# What a browser logs when the server of an open event stream dies (nothing else may show).
_CUT = ("net::ERR_INCOMPLETE_CHUNKED_ENCODING", "net::ERR_CONNECTION_REFUSED")

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and shutil.which("promtool")
         and shutil.which("useradd")),
    reason="needs Debian's chromium and prometheus (promtool), and useradd (.ci/run installs "
           "them)")
sync_api = pytest.importorskip("playwright.sync_api")


@dataclass(frozen=True)
class User:
    name: str
    password: str


def _run(*argv: str, input: str | None = None) -> None:
    subprocess.run(argv, input=input, text=True, check=True, capture_output=True, timeout=30)


@pytest.fixture
def users() -> Iterator[tuple[User, User]]:
    """An operator (in haclient) and a viewer (in haview), removed afterwards."""
    made_groups: list[str] = []
    made_users: list[str] = []
    try:
        for group in ("haclient", "haview"):
            try:
                grp.getgrnam(group)
            except KeyError:
                _run("groupadd", "--system", group)
                made_groups.append(group)
        tag = secrets.token_hex(3)
        pair = []
        for prefix, group in (("cwop", "haclient"), ("cwview", "haview")):
            user = User(f"{prefix}{tag}", secrets.token_urlsafe(12))
            _run("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 "--groups", group, user.name)
            made_users.append(user.name)
            _run("chpasswd", input=f"{user.name}:{user.password}\n")
            pair.append(user)
        yield pair[0], pair[1]
    finally:
        for name in made_users:
            subprocess.run(["userdel", name], check=False, capture_output=True, timeout=30)
        for group in made_groups:
            subprocess.run(["groupdel", group], check=False, capture_output=True, timeout=30)


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    new = Site(lab, SiteOptions(nodes=2, serial=False, ipfail=True, watchdog=False,
                                filesystem=False))
    try:
        for node in new.nodes.values():
            with open(node.conf_dir / "ha.cf", "a", encoding="utf-8") as handle:
                handle.write(f"web 0.0.0.0:{PORT}\n")
        yield new
    finally:
        new.close()
    new.assert_safe()


@pytest.fixture
def browser(lab: Lab, site: Site) -> Iterator[Any]:
    """Chromium in the client host's namespace, driven by Playwright over a pipe."""
    wrapper = lab.root / "chromium-in-client"
    wrapper.write_text(f"#!/bin/sh\nexec ip netns exec {site.client.netns} {CHROMIUM} "
                       '"$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    with sync_api.sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=str(wrapper), headless=True,
                                        timeout=_TIMEOUT * 1000)
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A browser page whose console errors and failed requests are collected."""

    def __init__(self, browser: Any, **context: Any) -> None:
        self.context = browser.new_context(ignore_https_errors=True, **context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(_UI_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def weight(self) -> int:
        """Bytes this page load fetched (the live event stream aside), as the browser counts."""
        total: int = self.page.evaluate(
            """() => performance.getEntriesByType("navigation")
                 .concat(performance.getEntriesByType("resource"))
                 .filter(e => !e.name.includes("/api/events"))
                 .reduce((sum, e) => sum + e.transferSize, 0)""")
        return total

    def login(self, base: str, user: User) -> None:
        self.page.goto(base + "/")
        self.page.fill("input[name=user]", user.name)
        self.page.fill("input[name=password]", user.password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#tabs:not([hidden])")
        self.page.wait_for_selector(".node[data-node=node2]")

    def fetch(self, path: str, method: str = "GET", body: dict[str, Any] | None = None,
              csrf: bool = True) -> dict[str, Any]:
        """A same-origin request from a second page of the same session (the test process
        cannot reach the node; a refused request's console line stays off the watched page)."""
        probe = self.context.new_page()
        probe.goto(self.page.url)
        result: dict[str, Any] = probe.evaluate(
            """async ([path, method, body, csrf]) => {
                 const headers = { "Content-Type": "application/json" };
                 if (csrf) {
                   const s = await (await fetch("/api/session")).json();
                   headers["X-CSRF-Token"] = s.csrf;
                 }
                 const r = await fetch(path, method === "GET" ? {} :
                   { method, headers, body: JSON.stringify(body) });
                 return { status: r.status, text: await r.text() };
               }""", [path, method, body, csrf])
        probe.close()
        return result


def _group_on(page: Any, node: str) -> None:
    page.wait_for_function(
        """node => {
             const g = document.querySelector('.group[data-group] .group-node');
             const s = document.querySelector('.group[data-group] .group-state');
             return g?.textContent === 'on ' + node && s?.textContent === 'started'; }""",
        arg=node)


def _node_state(page: Any, node: str, state: str) -> None:
    page.wait_for_function(
        """([node, state]) => document.querySelector(
             `.node[data-node="${node}"] .node-state`)?.textContent === state""",
        arg=[node, state])


def _shoot(page: Any, name: str) -> None:
    target = os.environ.get("CLUSTER_WEB_SCREENSHOTS")
    if target:
        page.evaluate("document.getElementById('toast').hidden = true")
        page.screenshot(path=str(Path(target) / name), full_page=True)


def _start_mon(site: Site, node: Node) -> None:
    """cluster-mon on `node`, pinging the lab's router, where that node's dashboard finds it."""
    assert site.router is not None
    config = node.dir / "mon.cf"
    config.write_text(f"""hostgroup gateway {site.router.address(site.public)}

watch gateway
    service ping
        description ICMP echo to the router
        interval 1s
        monitor icmp -t 500 -r 1
""", encoding="utf-8")
    node.spawn([sys.executable, "-m", "cluster.mon", "-f", str(config), "--run-dir",
                str(node.run_dir), "--log-dir", str(node.log_dir)])


def _cpu_seconds(node: Node, title: str) -> float:
    pid = node.pid_of(title)
    assert pid is not None, f"{node.name}: no {title!r} process"
    used = cpu_seconds(pid)
    assert used is not None, f"{node.name}: {title!r} (pid {pid}) is gone"
    return used


def test_dashboard(site: Site, users: tuple[User, User], browser: Any) -> None:
    operator, viewer = users
    began = time.monotonic()

    def phase(name: str) -> None:    # where the time goes, shown with -s
        print(f"[{time.monotonic() - began:6.1f} s] {name}")

    n1, n2 = site.nodes["node1"], site.nodes["node2"]
    base = f"https://{n2.address(site.public)}:{PORT}"
    phase("start both stacks")
    site.start()
    site.wait_served_by("node1")
    wait_for(lambda: n2.pid_of("cluster: web") is not None, _TIMEOUT, interval=0.1,
             message="cluster-web running on node2")
    _start_mon(site, n2)

    phase("log in")
    op = Watched(browser)
    page = op.page
    wait_for(lambda: _reachable(page, base), _TIMEOUT, interval=0.5,
             message=f"cluster-web answering on {base}")
    op.login(base, operator)
    page_bytes = op.weight()
    assert 40_000 < page_bytes < 300 * 1024, f"one page load is {page_bytes} bytes"
    _node_state(page, "node1", "online")
    _node_state(page, "node2", "online")
    _group_on(page, "node1")
    assert "null" not in page.inner_text("#summary")
    page.wait_for_selector("#stonith-box:not([hidden]) #stonith td code")
    page.wait_for_selector("#pings-box:not([hidden]) #pings >> text=reachable")
    page.wait_for_selector("#mon-box:not([hidden]) #mon >> text=gateway/ping")
    page.wait_for_selector("#mon .badge.ok >> text=ok")

    phase("node1: standby, online, take over (confirmed; take over relayed to node1)")
    # node1: standby, online, take over (confirmed; take over relayed to node1)
    page.click('.node[data-node=node1] button[data-action=standby]')
    page.click("#confirm-ok")
    _node_state(page, "node1", "standby")
    _group_on(page, "node2")
    page.click('.node[data-node=node1] button[data-action=online]')
    _node_state(page, "node1", "online")
    page.click('.node[data-node=node1] button[data-action=takeover]')
    page.click("#confirm-ok")
    _group_on(page, "node1")
    site.wait_served_by("node1")

    phase('move there and back, clear (all confirmed)')
    # move (confirmed) there and back, clear
    for there in ("node2", "node1"):
        page.click(f".group button[data-action=move][data-node={there}]")
        page.click("#confirm-ok")
        _group_on(page, there)
        page.wait_for_selector(f".group .chips >> text=moved to {there}")
    page.click(".group button[data-action=clear]")
    page.click("#confirm-ok")
    page.wait_for_selector(".group button[data-action=clear]", state="detached")
    _group_on(page, "node1")

    phase('a failed monitor shows; Clean up clears it')
    # a failed monitor shows; Clean up clears it
    os.kill(int((n1.run_dir / "httpd.pid").read_text()), signal.SIGKILL)
    try:
        page.wait_for_selector("#failures-box:not([hidden])")
    except sync_api.TimeoutError as err:
        raise AssertionError(f"no failed action on the page\n{site.log_tails()}") from err
    page.click(".group button[data-action=cleanup]")
    page.wait_for_selector("#failures-box", state="hidden")
    _group_on(page, "node1")

    phase('maintenance mode on and off (both confirmed)')
    # maintenance mode on (confirmed) and off (after the failure: leaving it probes again)
    page.click("#cluster-bar button[data-action=maintenance-on]")
    page.click("#confirm-ok")
    page.wait_for_selector("#summary .maintenance")
    page.click("#cluster-bar button[data-action=maintenance-off]")
    page.click("#confirm-ok")
    page.wait_for_selector("#summary .maintenance", state="detached")
    _group_on(page, "node1")

    phase("the logs view: crmd's lines, filtered")
    # the logs view: crmd's lines, filtered
    page.evaluate("location.hash = '#logs'")
    page.select_option("#log-daemon", "crmd")
    page.fill("#log-filter", "standby")
    page.wait_for_function("""() => {
        const lines = [...document.querySelectorAll('#logs div')];
        return lines.length > 0 &&
            lines.every(l => l.textContent.toLowerCase().includes('standby'));
    }""")
    page.evaluate("location.hash = '#overview'")

    phase('/metrics is valid Prometheus text')
    # /metrics is valid Prometheus text
    metrics = op.fetch("/metrics")
    assert metrics["status"] == 200
    check = subprocess.run(["promtool", "check", "metrics"], input=metrics["text"], text=True,
                           capture_output=True, timeout=30, check=False)
    assert check.returncode == 0, check.stdout + check.stderr + metrics["text"]
    assert 'cluster_group_running{group=' in metrics["text"]

    phase('CSRF and roles')
    # CSRF and roles
    assert op.fetch("/api/action", "POST", {"action": "cleanup"}, csrf=False)["status"] == 403
    ro = Watched(browser)
    ro.login(base, viewer)
    assert ro.page.locator("button[data-action]").count() == 0
    denied = ro.fetch("/api/action", "POST", {"action": "standby", "node": "node1"})
    assert denied["status"] == 403, denied

    phase('the phone layout (in the dark scheme) never scrolls sideways')
    # the phone layout (in the dark scheme) never scrolls sideways
    phone = Watched(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                    has_touch=True, device_scale_factor=2, color_scheme="dark")
    phone.login(base, operator)
    for view in ("overview", "hosts", "timeline", "logs"):
        phone.page.evaluate("v => { location.hash = '#' + v; }", view)
        phone.page.wait_for_selector(f"#view-{view}:not([hidden])")
        if view == "overview":
            _shoot(phone.page, "web-phone.png")
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{view}: the page is {width} px wide on a 390 px phone"

    phase('screenshots, then the idle cost with three pages open (on the overview)')
    # screenshots, then the idle cost with three pages open (on the overview)
    page.evaluate("location.hash = '#overview'")
    _shoot(page, "web-overview.png")
    page.evaluate("location.hash = '#hosts/node2'")
    page.wait_for_selector(".chart .uplot", timeout=_UI_MS)
    _shoot(page, "web-host.png")
    page.evaluate("location.hash = '#overview'")
    cpu0, t0 = _cpu_seconds(n2, "cluster: web"), time.monotonic()
    wait_for(lambda: time.monotonic() - t0 >= 10.0, 15.0, interval=0.5, message="10 s idle")
    busy = (_cpu_seconds(n2, "cluster: web") - cpu0) / (time.monotonic() - t0)
    print(f"cluster-web idle CPU with three pages open: {100 * busy:.2f} % of a core; "
          f"page load {page_bytes} bytes")

    phase('power the owner off: the page follows without a reload')
    # power the owner off: the page follows without a reload
    page.evaluate("window.__noReload = true")
    powered_off = time.monotonic()
    site.power_off("node1")
    served = site.wait_served_by("node2")
    _node_state(page, "node1", "offline")
    _group_on(page, "node2")
    page.evaluate("location.hash = '#timeline'")
    entry = page.wait_for_selector('#timeline li[data-kind=failover] .dur')
    shown = time.monotonic()
    assert page.evaluate("window.__noReload") is True
    print(f"failover on the page {shown - served:.2f} s after the service answered again, "
          f"{shown - powered_off:.2f} s after the power-off; entry: {entry.text_content()}")
    assert shown - served < 2.0
    _shoot(page, "web-timeline.png")

    phase("cluster-web restarts: sessions, roles and the kept timeline survive it")
    cookie = next(c for c in op.context.cookies() if c["name"] == "cw_session")
    page.wait_for_selector("#timeline li[data-kind=fence] >> text=node1")
    page.wait_for_selector("#timeline li[data-kind=node-dead] >> text=node1 left")
    kept = page.locator("#timeline li").all_text_contents()
    before = {id(w): len(w.errors) for w in (op, ro, phone)}
    old = site.kill_daemon("node2", "cluster: web")
    wait_for(lambda: n2.pid_of("cluster: web") not in (None, old), _TIMEOUT, interval=0.1,
             message="cluster-mcp starting cluster-web again on node2")
    again = op.context.new_page()
    again.set_default_timeout(_UI_MS)
    wait_for(lambda: _reachable(again, base), _TIMEOUT, interval=0.5,
             message="the restarted cluster-web answering")
    again.wait_for_selector("#tabs:not([hidden])")         # no second login
    again.evaluate("location.hash = '#timeline'")
    again.wait_for_selector("#timeline li[data-kind=fence] >> text=node1")
    again.wait_for_function("n => document.querySelectorAll('#timeline li').length >= n",
                            arg=len(kept))
    assert again.locator("#timeline li").all_text_contents() == kept     # every entry, once
    again.close()
    denied = ro.fetch("/api/action", "POST", {"action": "standby", "node": "node2"})
    assert denied["status"] == 403 and "may look" in denied["text"], denied
    for watched in (op, ro, phone):     # the killed server cut the open event streams
        cut = watched.errors[before[id(watched)]:]
        assert all(any(c in e for c in _CUT) for e in cut), cut
        del watched.errors[before[id(watched)]:]

    phase("node1 returns: its dashboard shows what it missed; node2's page tails node1's log")
    site.start("node1")
    _node_state(page, "node1", "online")
    phase("node1 online again")
    page.evaluate("location.hash = '#logs'")
    page.select_option("#log-node", "node1")
    page.select_option("#log-daemon", "web")
    page.fill("#log-filter", "web login")
    base1 = f"https://{n1.address(site.public)}:{PORT}"
    one = Watched(browser)
    wait_for(lambda: _reachable(one.page, base1), _TIMEOUT, interval=0.5,
             message=f"cluster-web answering on {base1}")
    one.login(base1, operator)
    phase("logged in on node1")
    page.wait_for_function("""user => [...document.querySelectorAll('#logs div')]
        .some(l => l.textContent.includes('web login: ' + user))""", arg=operator.name)
    shown = page.locator("#logs div").all_text_contents()
    node1_log = n1.daemon_log("web")
    assert shown and all(line in node1_log for line in shown), (shown, node1_log[-2000:])
    phase("node1's log line shown on node2's page")
    one.page.evaluate("location.hash = '#timeline'")
    one.page.wait_for_selector("#timeline li[data-kind=node-dead] >> text=node1 left")
    one.page.wait_for_selector("#timeline li[data-kind=fence] >> text=node1")
    one.page.wait_for_function(
        "document.getElementById('last-fence').textContent.includes('node1 was fenced')")
    page.evaluate("location.hash = '#overview'")

    phase("logging out ends the session for good")
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    stale = browser.new_context(ignore_https_errors=True)
    stale.add_cookies([cookie])
    probe = stale.new_page()
    probe.goto(base + "/")
    probe.wait_for_selector("#login:not([hidden])")
    stale.close()

    phase('the dashboard stops cleanly with pages still connected')
    # the dashboard stops cleanly with pages still connected
    site.stop("node2")
    web_log = n2.daemon_log("web")
    assert "web stopped" in web_log and "ERROR" not in web_log, web_log[-3000:]
    for watched in (op, ro, phone, one):
        assert not watched.errors, watched.errors
    assert 100 * busy < 1.0, f"cluster-web used {100 * busy:.2f} % of a core while idle"


def _reachable(page: Any, base: str) -> bool:
    try:
        page.goto(base + "/", timeout=3000)
    except sync_api.Error:
        return False
    return True
