"""Segments that test other segments (``in_segment``) form a graph; refreshes follow it, cycles are refused.

Pure functions over ``{key: keys it depends on}``: no I/O, unit-tested directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pitboard.kit.errors import ValidationFailed

Graph = Mapping[str, Iterable[str]]


class SegmentCycle(ValidationFailed):
    """Segments that depend on each other in a circle: no order could refresh them."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(
            "segments may not depend on each other in a cycle: " + " → ".join(cycle), details={"cycle": cycle}
        )
        self.cycle = cycle


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle as ``[a, b, …, a]``, or None. Keys not in ``graph`` are leaves (unknown or static segments)."""
    deps = {key: sorted(set(values)) for key, values in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(key: str) -> list[str] | None:
        state[key] = 1
        path.append(key)
        for dep in deps.get(key, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        path.pop()
        state[key] = 2
        return None

    for key in sorted(deps):
        if key not in state and (found := visit(key)) is not None:
            return found
    return None


def check_acyclic(graph: Graph) -> None:
    cycle = find_cycle(graph)
    if cycle is not None:
        raise SegmentCycle(cycle)


def topological_order(graph: Graph, keys: Iterable[str] | None = None) -> list[str]:
    """``keys`` (default: all of the graph) so that each comes after every key it depends on; ties in key
    order, so the order is reproducible. Dependencies outside ``keys`` are not added."""
    check_acyclic(graph)
    wanted = set(graph) if keys is None else set(keys)
    deps = {key: sorted(set(values)) for key, values in graph.items()}
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        seen.add(key)
        for dep in deps.get(key, []):
            if dep not in seen:
                visit(dep)
        if key in wanted:
            order.append(key)

    for key in sorted(wanted):
        if key not in seen:
            visit(key)
    return order


def dependencies_of(graph: Graph, keys: Iterable[str]) -> set[str]:
    """``keys`` and everything they depend on, directly or not."""
    found: set[str] = set()
    stack = list(keys)
    while stack:
        key = stack.pop()
        if key in found:
            continue
        found.add(key)
        stack.extend(graph.get(key, ()))
    return found


def dependents_of(graph: Graph, keys: Iterable[str]) -> set[str]:
    """``keys`` and every key that depends on one of them, directly or not."""
    reverse: dict[str, set[str]] = {}
    for key, deps in graph.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(key)
    return dependencies_of(reverse, keys)
