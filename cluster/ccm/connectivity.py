"""Connectivity graphs: who hears whom, and the groups of nodes that all do.

Role: the pure graph half of a membership decision (reference 6.1: "builds
a graph, takes the maximum clique as the new membership").  Input is, for
each participant of a round, the set of nodes it reports reachable; output
is a partition of the participants into cliques, largest first.  No I/O, no
clock; :mod:`cluster.ccm.membership` calls :func:`partition` when a round's
answers are in.

Theory of operation.  Two nodes are *connected* only when each reports the
other: hbcomm liveness is per direction (a one-way cut, where A hears B but B
does not hear A, is common with a broken switch port or a firewall rule),
and a membership whose members cannot all talk both ways cannot agree on
anything.  The largest set of nodes that are pairwise connected is a maximum
clique; Bron-Kerbosch with pivoting finds it exactly, and for the cluster
sizes Heartbeat supports (at most a few dozen nodes, typically 2-16) the
search is instant.  Ties between cliques of the same size go to the one
whose sorted member names come first, so every coordinator that sees the
same reports decides the same way.  :func:`partition` then repeats the
search on the nodes left over, so each participant ends up in exactly one
group: a node cut off from the main group gets a view of its own in the same
decision instead of waiting for a timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["adjacency", "max_clique", "partition"]

Graph = Mapping[str, frozenset[str]]


def adjacency(reports: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Undirected graph of the reporters: an edge where both report each other."""
    heard = {node: frozenset(reach) for node, reach in reports.items()}
    return {
        node: frozenset(other for other in reach
                        if other != node and node in heard.get(other, frozenset()))
        for node, reach in heard.items()
    }


def _better(candidate: frozenset[str], best: frozenset[str]) -> bool:
    if len(candidate) != len(best):
        return len(candidate) > len(best)
    return sorted(candidate) < sorted(best)


def max_clique(nodes: Iterable[str], graph: Graph) -> frozenset[str]:
    """The largest pairwise-connected subset of `nodes` (ties: lowest names)."""
    universe = frozenset(nodes)
    if not universe:
        return frozenset()
    neighbours = {n: graph.get(n, frozenset()) & universe for n in universe}
    best = frozenset([min(universe)])

    def expand(clique: frozenset[str], candidates: frozenset[str],
               excluded: frozenset[str]) -> None:
        nonlocal best
        if not candidates and not excluded:
            if _better(clique, best):
                best = clique
            return
        if len(clique) + len(candidates) < len(best):
            return  # cannot beat the best even taking every candidate
        pivot = max(candidates | excluded, key=lambda n: (len(neighbours[n] & candidates), n))
        for node in sorted(candidates - neighbours[pivot]):
            expand(clique | {node}, candidates & neighbours[node], excluded & neighbours[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    expand(frozenset(), universe, frozenset())
    return best


def partition(nodes: Iterable[str], graph: Graph) -> list[tuple[str, ...]]:
    """Split `nodes` into cliques: the maximum clique, then the same for the rest."""
    remaining = set(nodes)
    groups: list[tuple[str, ...]] = []
    while remaining:
        clique = max_clique(remaining, graph)
        groups.append(tuple(sorted(clique)))
        remaining -= clique
    return groups
