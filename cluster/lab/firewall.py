"""Packet-loss rules for a node, as nftables scripts (pure: text in, text out).

This kernel has no `tc netem`, so lossy and cut links are nftables rules inside
the node's own namespace: one `inet` table for IP traffic and one `arp` table,
both named `<prefix>_lab`, each with an input and an output chain. A `Block`
on an interface drops packets arriving on it and leaving through it:
  * all IP and ARP traffic (a cut link that also hides the node's MAC), or
  * only UDP to the given destination port (heartbeats), and
  * either every packet or a random `loss_percent` of them, decided per
    packet by `numgen random mod 100 < N`.

`script()` always replaces the whole table set atomically (`nft -f` applies a
file as one transaction): declare the tables, delete them, recreate them with
the current rules. With no blocks left it only deletes them.

Theory of operation is simple enough to read from the output, e.g.:
    table inet cl1a2b_lab {
      chain input { type filter hook input priority filter - 10; policy accept;
        iifname "eth0" udp dport 694 numgen random mod 100 < 30 drop } ... }
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Block", "script"]

# Before the default filter priority, so that rules a resource agent or a
# test adds in the same namespace cannot accept a packet we mean to lose.
_PRIORITY = "filter - 10"


@dataclass(frozen=True, slots=True)
class Block:
    """Drop (some of) the traffic through one interface."""

    ifname: str
    loss_percent: int = 100
    udp_port: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.loss_percent <= 100:
            raise ValueError(f"loss_percent must be 1..100, got {self.loss_percent}")
        if self.udp_port is not None and not 1 <= self.udp_port <= 65535:
            raise ValueError(f"udp_port must be 1..65535, got {self.udp_port}")
        if not self.ifname.isalnum():
            raise ValueError(f"unexpected interface name {self.ifname!r}")

    def _loss(self) -> str:
        if self.loss_percent >= 100:
            return ""
        return f"numgen random mod 100 < {self.loss_percent} "

    def ip_rules(self, direction: str) -> list[str]:
        match = "iifname" if direction == "input" else "oifname"
        head = f'{match} "{self.ifname}" '
        if self.udp_port is None:
            return [f"{head}{self._loss()}drop"]
        return [f"{head}udp dport {self.udp_port} {self._loss()}drop"]

    def arp_rules(self, direction: str) -> list[str]:
        if self.udp_port is not None:
            return []
        match = "iifname" if direction == "input" else "oifname"
        return [f'{match} "{self.ifname}" {self._loss()}drop']


def _table(family: str, name: str, rules: dict[str, list[str]]) -> list[str]:
    lines = [f"table {family} {name} {{"]
    for hook in ("input", "output"):
        lines.append(f"  chain {hook} {{")
        lines.append(f"    type filter hook {hook} priority {_PRIORITY}; policy accept;")
        lines.extend(f"    {rule}" for rule in rules[hook])
        lines.append("  }")
    lines.append("}")
    return lines


def script(table: str, blocks: Sequence[Block]) -> str:
    """The nft script that makes `blocks` the complete rule set of `table`."""
    lines: list[str] = []
    for family in ("inet", "arp"):
        # Declaring first makes the delete valid whether or not it exists.
        lines += [f"table {family} {table} {{}}", f"delete table {family} {table}"]
    if blocks:
        ip_rules = {
            hook: [r for b in blocks for r in b.ip_rules(hook)] for hook in ("input", "output")
        }
        arp_rules = {
            hook: [r for b in blocks for r in b.arp_rules(hook)] for hook in ("input", "output")
        }
        lines += _table("inet", table, ip_rules)
        if any(arp_rules.values()):
            lines += _table("arp", table, arp_rules)
    return "\n".join(lines) + "\n"
