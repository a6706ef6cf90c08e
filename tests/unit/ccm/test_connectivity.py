"""Connectivity graphs: mutual edges only, exact maximum clique, deterministic ties."""

from __future__ import annotations

import itertools
import random

from cluster.ccm.connectivity import adjacency, max_clique, partition


def full(nodes: str) -> dict[str, set[str]]:
    return {n: set(nodes) for n in nodes}


def test_only_mutual_hearing_makes_an_edge() -> None:
    graph = adjacency({"a": {"a", "b", "c"}, "b": {"a", "b"}, "c": {"c"}})
    assert graph == {"a": {"b"}, "b": {"a"}, "c": set()}


def test_fully_connected_is_one_group() -> None:
    graph = adjacency(full("abcde"))
    assert partition("abcde", graph) == [("a", "b", "c", "d", "e")]


def test_one_sided_cut_splits_off_the_highest_name_on_a_tie() -> None:
    reports = full("abc")
    reports["a"].discard("c")  # a does not hear c: {a,b} and {b,c} tie
    assert partition("abc", adjacency(reports)) == [("a", "b"), ("c",)]


def test_the_largest_clique_wins_over_names() -> None:
    reports = full("abcde")
    for other in "cde":
        reports["a"].discard(other)
    assert partition("abcde", adjacency(reports)) == [("b", "c", "d", "e"), ("a",)]


def test_max_clique_matches_brute_force_on_random_graphs() -> None:
    rng = random.Random(7)
    nodes = "abcdefghij"
    for _ in range(100):
        reports = {n: {n} | {m for m in nodes if rng.random() < 0.7} for n in nodes}
        graph = adjacency(reports)
        best = max(
            (set(c) for size in range(len(nodes), 0, -1)
             for c in itertools.combinations(nodes, size)
             if all(b in graph[a] for a, b in itertools.combinations(c, 2))),
            key=lambda c: (len(c), [-ord(ch) for ch in sorted(c)]))
        assert max_clique(nodes, graph) == best
