"""The built-in ``mail`` alert: composing the message, and sending it over SMTP.

Role: :func:`compose` builds the mail for one alert (pure); :func:`send`
hands it to an SMTP server (blocking, with a socket timeout: the daemon
calls it from a worker thread, ``mailer.py``). The same module is also a
Mon alert program, so Mon itself or a shell can use it::

    python -m cluster.mon.mail [--server H] [--port P] [--from F] \\
        -s service -g group -h "hosts" -t time [-l secs] [-u] recipient...

reads the summary (first line) and detail (the rest) on stdin. Exit status
0: the server accepted the mail; 1: it did not (why, on stderr); 2: usage.

Subject: ``ALERT group/service: summary (time)``, ``UPALERT`` for an upalert
(whose own summary is usually empty: then the failure it ends is named, from
MON_LAST_SUMMARY), ``STARTUPALERT`` at start-up. The body lists group,
service, time, seconds until the next alert and members, as Mon's
``mail.alert`` users are used to reading, then the monitor's detail.
"""

from __future__ import annotations

import argparse
import email.utils
import os
import smtplib
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

__all__ = ["MailAlert", "compose", "main", "send"]


@dataclass(frozen=True, slots=True)
class MailAlert:
    kind: str                    # "failure" | "up" | "startup" (MON_ALERTTYPE)
    group: str
    service: str
    hosts: str
    when: float
    alertevery: int
    recipients: tuple[str, ...]
    sender: str
    summary: str
    detail: str = ""
    description: str = ""
    last_summary: str = ""       # the failure an upalert ends


def default_sender() -> str:
    return f"mon@{socket.gethostname()}"


def compose(alert: MailAlert) -> EmailMessage:
    """The mail for one alert."""
    word = {"up": "UPALERT", "startup": "STARTUPALERT"}.get(alert.kind, "ALERT")
    summary = alert.summary.strip()
    if alert.kind == "up" and not summary and alert.last_summary:
        summary = f"{alert.last_summary} back"
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(alert.when))
    message = EmailMessage()
    message["From"] = alert.sender
    message["To"] = ", ".join(alert.recipients)
    message["Subject"] = f"{word} {alert.group}/{alert.service}: {summary or 'ok'} ({stamp})"
    message["Date"] = email.utils.formatdate(alert.when, localtime=True)
    message["X-Mailer"] = "cluster-mon"
    lines = [
        f"Group                 : {alert.group}",
        f"Service               : {alert.service}",
        f"Time noticed          : {stamp}",
        f"Secs until next alert : {alert.alertevery or ''}",
        f"Members               : {alert.hosts}",
    ]
    if alert.description:
        lines.append(f"Description           : {alert.description}")
    lines += ["", "Detailed text (if any) follows:", "-------------------------------",
              alert.detail.rstrip("\n")]  # fmt: skip
    message.set_content("\n".join(lines) + "\n")
    return message


def send(message: EmailMessage, server: str, port: int, timeout: float) -> None:
    """Hand `message` to the SMTP server; raises OSError/SMTPException on failure."""
    with smtplib.SMTP(server, port, timeout=timeout) as smtp:
        smtp.send_message(message)


def _parser() -> argparse.ArgumentParser:
    # No --help: Mon passes -h for the hosts.
    parser = argparse.ArgumentParser(prog="python -m cluster.mon.mail", add_help=False)
    parser.add_argument("--server", default="localhost")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--from", dest="sender", default=None)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("-f", dest="alert_sender", default=None, help="sender (mail.alert's -f)")
    parser.add_argument("-s", dest="service", default="")
    parser.add_argument("-g", dest="group", default="")
    parser.add_argument("-h", dest="hosts", default="")
    parser.add_argument("-t", dest="time", type=int, default=None)
    parser.add_argument("-l", dest="alertevery", type=int, default=0)
    parser.add_argument("-u", dest="up", action="store_true")
    parser.add_argument("-T", dest="trap", action="store_true")
    parser.add_argument("-O", dest="traptimeout", action="store_true")
    parser.add_argument("recipients", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None, stdin: str | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    text = sys.stdin.read() if stdin is None else stdin
    summary, _, detail = text.partition("\n")
    kind = "up" if args.up else os.environ.get("MON_ALERTTYPE", "failure")
    alert = MailAlert(
        kind=kind, group=args.group, service=args.service, hosts=args.hosts,
        when=args.time if args.time is not None else time.time(), alertevery=args.alertevery,
        recipients=tuple(args.recipients),
        sender=args.alert_sender or args.sender or default_sender(), summary=summary,
        detail=detail, description=os.environ.get("MON_DESCRIPTION", ""),
        last_summary=os.environ.get("MON_LAST_SUMMARY", ""),
    )  # fmt: skip
    try:
        send(compose(alert), args.server, args.port, args.timeout)
    except (OSError, smtplib.SMTPException) as err:
        print(f"mail alert: cannot send via {args.server}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
