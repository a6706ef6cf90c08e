"""Real services for lab clusters: a web server run by an LSB init script.

:func:`httpd_script` renders the ``resource.d/httpd`` script a lab node's
haresources names: ``start`` runs Python's http.server in the background
serving a page with the node's name, ``status`` prints "running" and exits
0 (or exits 3 when stopped, as LSB and Heartbeat's ResourceManager expect),
``stop`` kills it and waits.  Used by the failover tests, the benchmarks and
the demo, so a client can see which node answers.
"""

from __future__ import annotations

import sys

from cluster.lab.node import Node

HTTP_PORT = 8080

_HTTPD = """#!/bin/sh
# LSB init script for the lab's web server; status prints "running" (Heartbeat greps for it).
PIDFILE={run}/httpd.pid
# A killed server is a zombie until its reaper collects it: that is not running.
running() {{
    [ -f "$PIDFILE" ] || return 1
    state=$(cut -d' ' -f3 "/proc/$(cat "$PIDFILE")/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}}
case "$1" in
start)
    running && exit 0
    setsid {python} -m http.server {port} --bind 0.0.0.0 --directory {www} \\
        </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    i=0
    while [ $i -lt 100 ]; do
        {python} -c "import socket; socket.create_connection(('127.0.0.1', {port}), 0.1)" \\
            2>/dev/null && exit 0
        i=$((i + 1)); sleep 0.05
    done
    exit 1 ;;
stop)
    if running; then
        kill "$(cat "$PIDFILE")"
        while running; do sleep 0.02; done
    fi
    rm -f "$PIDFILE"; exit 0 ;;
status)
    if running; then echo "httpd is running"; exit 0; fi
    echo "httpd is stopped"; exit 3 ;;
*) echo "usage: $0 start|stop|status"; exit 2 ;;
esac
"""


def httpd_pid(node: Node) -> int | None:
    """The pid in `node`'s httpd pidfile; None while there is none (being restarted)."""
    try:
        return int((node.run_dir / "httpd.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def httpd_script(node: Node, port: int = HTTP_PORT) -> str:
    """The script for `node`, serving a page that says the node's name."""
    www = node.dir / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(node.name)
    return _HTTPD.format(run=node.run_dir, python=sys.executable, port=port, www=www)


CLIENT_PROBE = """
import socket, sys, time
vip, port, interval, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    started = time.monotonic()
    try:
        with socket.create_connection((vip, port), timeout=interval * 5) as conn:
            conn.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            reply = b""
            while chunk := conn.recv(4096):  # HTTP/1.0: the server closes after the body
                reply += chunk
            body = reply.split(b"\\r\\n\\r\\n", 1)[-1].decode(errors="replace").strip() or "-"
    except OSError:
        body = "-"
    print(f"{started:.6f} {body}", flush=True)
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
"""
"""A client that asks the VIP every `interval` seconds and prints "<time> <who answered>"."""


OVERLAPPING_PROBE = """
import selectors, socket, sys, time
vip, port, interval, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
patience = 1.0
selector = selectors.DefaultSelector()
deadline = time.monotonic() + limit
due = time.monotonic()
while time.monotonic() < deadline:
    now = time.monotonic()
    if now >= due:
        due = max(due + interval, now)
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        conn.setblocking(False)
        conn.connect_ex((vip, port))
        selector.register(conn, selectors.EVENT_WRITE, {"started": now, "reply": b""})
    for key in list(selector.get_map().values()):
        if now - key.data["started"] > patience:
            selector.unregister(key.fileobj)
            key.fileobj.close()
    for key, _ in selector.select(max(0.0, due - time.monotonic())):
        conn, request = key.fileobj, key.data
        try:
            if key.events == selectors.EVENT_WRITE:
                error = conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, "connect failed")
                conn.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
                selector.modify(conn, selectors.EVENT_READ, request)
                continue
            chunk = conn.recv(4096)
            if chunk:
                request["reply"] += chunk
                continue
            body = request["reply"].split(b"\\r\\n\\r\\n", 1)[-1].decode(errors="replace")
            print(f"{time.monotonic():.6f} {body.strip() or '-'}", flush=True)
        except OSError:
            pass
        selector.unregister(conn)
        conn.close()
"""
"""A client that opens a new request to the VIP every `interval` seconds without
waiting for the earlier ones (each may take up to a second) and prints
"<time answered> <who answered>" as answers arrive, in the order they arrive.
Unlike `CLIENT_PROBE`, a request lost to a stale ARP entry does not hold the next
one back, so the first answer from a new owner is seen within one interval."""

