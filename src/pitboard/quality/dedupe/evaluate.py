"""Precision, recall and F1 of predicted duplicate links against the demo generator's ground truth.

Both sides are compared as sets of *pairwise links* between contact ids:

* truth: every labelled duplicate is linked to its ``duplicate_of``, and links are closed transitively
  (two duplicates of one original are linked to each other too), i.e. all pairs inside each true cluster;
* prediction: all pairs inside each predicted cluster (a cluster of n contacts gives n(n-1)/2 links).

precision = |predicted ∩ truth| / |predicted|, recall = |predicted ∩ truth| / |truth|, F1 their harmonic
mean. Only ids present in ``universe`` (the contacts that were deduplicated) count, when given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

__all__ = ["Evaluation", "clusters_to_links", "evaluate", "evaluate_links", "truth_clusters"]

Link = tuple[int, int]


@dataclass(frozen=True)
class Evaluation:
    true_links: int
    predicted_links: int
    correct_links: int

    @property
    def precision(self) -> float:
        return self.correct_links / self.predicted_links if self.predicted_links else 1.0

    @property
    def recall(self) -> float:
        return self.correct_links / self.true_links if self.true_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (
            f"P={self.precision:.4f} R={self.recall:.4f} F1={self.f1:.4f} "
            f"(correct {self.correct_links:,} of {self.predicted_links:,} predicted, {self.true_links:,} true)"
        )


def truth_clusters(ground_truth_path: Path) -> list[list[int]]:
    """Clusters of contact ids that are one person, from the generator's JSON Lines labels."""
    groups: dict[int, list[int]] = {}
    with ground_truth_path.open(encoding="utf-8") as lines:
        for line in lines:
            label = json.loads(line)
            if label.get("kind") == "duplicate":
                groups.setdefault(int(label["duplicate_of"]), []).append(int(label["contact_id"]))
    return [[original, *dups] for original, dups in groups.items()]


def clusters_to_links(clusters: Iterable[Sequence[int]]) -> set[Link]:
    links: set[Link] = set()
    for cluster in clusters:
        links.update(combinations(sorted(cluster), 2))
    return links


def evaluate_links(predicted: set[Link], truth: set[Link]) -> Evaluation:
    return Evaluation(true_links=len(truth), predicted_links=len(predicted), correct_links=len(predicted & truth))


def evaluate(
    predicted_clusters: Iterable[Sequence[int]], ground_truth_path: Path, *, universe: set[int] | None = None
) -> Evaluation:
    """Pairwise P/R/F1 of predicted clusters (each a list of contact ids) against the ground truth file."""
    truth_groups = truth_clusters(ground_truth_path)
    if universe is not None:
        truth_groups = [[cid for cid in group if cid in universe] for group in truth_groups]
    return evaluate_links(clusters_to_links(predicted_clusters), clusters_to_links(truth_groups))
