"""Clusters from scored pairs: connected components with union-find, guarded against over-merging.

Connected components chain: A~B and B~C put A and C together even if A and C look nothing alike, and
one spurious link can join two large groups. Two guards:

* edges are added strongest first, and an edge that would make a cluster larger than ``max_size`` is
  refused (and counted), so a chain of weak links cannot grow a giant cluster;
* callers cluster each band separately: auto-merge clusters use only auto-merge pairs, so a review-band
  pair never chains two confident clusters into an automatic merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ClusterResult", "UnionFind", "cluster_pairs"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int, max_size: int | None = None) -> bool:
        """Join the sets of a and b; False when they were joined already or the result would exceed max_size."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if max_size is not None and self.size[ra] + self.size[rb] > max_size:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True


@dataclass(frozen=True)
class ClusterResult:
    clusters: list[list[int]]  # row indices, each cluster of size ≥ 2, sorted
    refused_edges: int  # edges that would have exceeded the size cap (and did not join two joined sets)


def cluster_pairs(left: I64, right: I64, strength: F64, *, max_size: int | None = 10) -> ClusterResult:
    """Connected components of the pairs, strongest first, refusing merges beyond ``max_size`` rows."""
    order = np.argsort(-strength, kind="stable")
    sets = UnionFind(int(max(left.max(initial=-1), right.max(initial=-1))) + 1)
    refused = 0
    for a, b in zip(left[order].tolist(), right[order].tolist(), strict=True):
        if not sets.union(a, b, max_size) and sets.find(a) != sets.find(b):
            refused += 1
    groups: dict[int, list[int]] = {}
    for row in {*left.tolist(), *right.tolist()}:
        groups.setdefault(sets.find(row), []).append(row)
    clusters = sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])
    return ClusterResult(clusters, refused)
