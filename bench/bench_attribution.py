"""Every attribution model over synthetic journeys generated in memory (no database).

    .venv/bin/python -m bench.bench_attribution [--journeys 1000000] [--opportunities 100000] [--channels 9]

The data: ``--journeys`` journeys of 1-12 touches (mean about 4) over ``--channels`` channels with a skewed mix,
of which ``--opportunities`` convert with an amount between $1k and $200k and lead / opportunity / close
milestones. The rule-based models read the converting journeys (they only credit conversions); Markov and
Shapley read all journeys (they need the ones that did not convert). Goal: all models together under 5 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pitboard.measurement.attribution import CONVERSION_UNITS, MODELS, Journeys, ModelSpec, attribute

CHANNELS = ["Direct", "Organic Search", "Paid Search", "Paid Social", "Email", "Referral", "Organic Social",
            "Display", "Events", "Affiliates", "SMS", "Audio"]  # fmt: skip


def synthetic(journeys: int, opportunities: int, channels: int, seed: int = 7) -> Journeys:
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(0.25, journeys), 12).astype(np.int64)
    offsets = np.zeros(journeys + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    mix = rng.dirichlet(np.ones(channels) * 2)
    label = rng.choice(channels, size=total, p=mix).astype(np.int64)
    end = rng.uniform(0, 365 * 86400.0, journeys)
    jid = np.repeat(np.arange(journeys), lengths)
    at = np.sort(end[jid] - rng.exponential(20 * 86400.0, total))  # sorted globally, then per journey below
    at = end[jid] - np.abs(end[jid] - at)
    order = np.lexsort((at, jid))
    at = at[order]
    converted = np.zeros(journeys, dtype=np.bool_)
    converted[rng.choice(journeys, size=opportunities, replace=False)] = True
    amount = np.where(converted, rng.integers(100_000, 20_000_000, journeys), 0).astype(np.int64)
    lead = np.where(rng.random(journeys) < 0.8, (rng.random(journeys) * lengths).astype(np.int64), -1)
    opp = np.where(converted, np.maximum(lead, (rng.random(journeys) * lengths).astype(np.int64)), -1)
    close = np.where(converted & (rng.random(journeys) < 0.3), lengths - 1, -1)
    return Journeys(
        labels=CHANNELS[:channels], offsets=offsets, label=label, at=at, end=end, amount_cents=amount,
        converted=converted, lead=lead.astype(np.int64), opportunity=opp.astype(np.int64),
        close=close.astype(np.int64),
    )  # fmt: skip


def converting_only(j: Journeys) -> Journeys:
    keep = np.flatnonzero(j.converted)
    lengths = j.lengths[keep]
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    touch = np.concatenate([np.arange(j.offsets[k], j.offsets[k + 1]) for k in keep]) if len(keep) else np.zeros(0)
    touch = touch.astype(np.int64)
    return Journeys(labels=j.labels, offsets=offsets, label=j.label[touch], at=j.at[touch], end=j.end[keep],
                    amount_cents=j.amount_cents[keep], converted=j.converted[keep], lead=j.lead[keep],
                    opportunity=j.opportunity[keep], close=j.close[keep])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=9)
    args = parser.parse_args()
    started = time.perf_counter()
    journeys = synthetic(args.journeys, args.opportunities, args.channels)
    won = converting_only(journeys)
    print(f"data: {journeys.count:,} journeys, {len(journeys.label):,} touches, {args.channels} channels; "
          f"{won.count:,} converting ({len(won.label):,} touches); generated in "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    total_amount = int(won.amount_cents.sum())
    overall = 0.0
    for model in MODELS:
        spec = ModelSpec(model, weights={"first": 0.3, "lead": 0.2, "opportunity": 0.3}) if model == "custom" else model
        data = journeys if model in ("markov", "shapley") else won
        t0 = time.perf_counter()
        result = attribute(data, spec)
        took = time.perf_counter() - t0
        overall += took
        assert sum(c.amount_cents for c in result.credits) == total_amount, model
        assert sum(c.conversions_micro for c in result.credits) == won.count * CONVERSION_UNITS, model
        print(f"  {model:16s} {took * 1000:8.0f} ms   (sums exact)")
    print(f"all {len(MODELS)} models: {overall:.2f} s (goal < 5 s)")


if __name__ == "__main__":
    main()
