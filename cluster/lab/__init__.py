"""Namespace lab: whole clusters on one Linux host, for tests, benchmarks and demos.

`Lab` builds LANs (bridges in a private switch namespace), nodes and hosts
(network namespaces with their own hostname), serial cables (pty relays), and
breaks them on purpose: power off, cable pull, pause, packet loss.
`OwnershipObserver` independently watches who holds a service address, and
`wait_for` is the one bounded wait everything uses. Needs root, iproute2,
nftables and util-linux; see lab.py for the layout and cleanup.py for how a lab
is always removed again (`python -m cluster.lab sweep` removes leftovers of
crashed runs by hand).
"""

from __future__ import annotations

from cluster.lab.lab import Lab, Lan
from cluster.lab.netns import LabError, LabUnavailable
from cluster.lab.node import Node
from cluster.lab.observer import Interval, MountObserver, OwnershipObserver, Span
from cluster.lab.serial import SerialLink
from cluster.lab.waiting import wait_for

__all__ = [
    "Interval",
    "Lab",
    "LabError",
    "LabUnavailable",
    "Lan",
    "MountObserver",
    "Node",
    "OwnershipObserver",
    "SerialLink",
    "Span",
    "wait_for",
]
