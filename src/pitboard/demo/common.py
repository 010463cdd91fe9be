"""Helpers shared by the demo generator's parts: seeded random streams, weighted picks, text tools."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.demo.timefmt import US_PER_DAY, to_us
from pitboard.models import ProjectVersion
from pitboard.project.apply import checksum_of

Row = tuple[object, ...]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

# Separate random streams per part of the data, so adding a column to accounts does not
# change every contact: each (stream, chunk) pair gets its own generator derived from the seed.
STREAM_SALES, STREAM_ACCOUNTS, STREAM_CAMPAIGNS, STREAM_CONTACTS, STREAM_EVENTS = 1, 2, 3, 4, 5

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Window:
    """The 12 months the demo data spans, ending at ``now``; all times are µs since the epoch."""

    now: datetime
    days: int = 365

    @property
    def end_us(self) -> int:
        return to_us(self.now)

    @property
    def start_us(self) -> int:
        return self.end_us - self.days * US_PER_DAY

    def at(self, fraction: float) -> int:
        """A point in the window: 0.0 is its start, 1.0 is now, above 1.0 is in the future."""
        return self.start_us + int(fraction * self.days * US_PER_DAY)


def streams(seed: int, stream: int, index: int = 0) -> tuple[np.random.Generator, random.Random]:
    """A numpy generator for vectorised draws and a stdlib one for per-row string work, both seeded."""
    np_rng = np.random.default_rng([seed, stream, index])
    return np_rng, random.Random(int(np_rng.integers(0, 2**62)))


def cumulative(weights: Sequence[float] | F64) -> F64:
    """Normalised cumulative weights for :func:`pick`."""
    w = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(w / w.sum())
    cum[-1] = 1.0
    return cum


def pick(rng: np.random.Generator, cum: F64, n: int) -> I64:
    """``n`` indices drawn with the probabilities behind ``cum`` (faster than ``choice(p=...)`` per call)."""
    return np.searchsorted(cum, rng.random(n), side="right").astype(np.int64)


def pick_rows(rng: np.random.Generator, cum_rows: F64, rows: I64) -> I64:
    """For each element, an index drawn from its own row of a matrix of cumulative weights."""
    u = rng.random(len(rows))
    chosen: I64 = (u[:, None] >= cum_rows[rows]).sum(axis=1).astype(np.int64)
    return chosen


def ascii_fold(text: str) -> str:
    """ "Müller" → "mueller"-ish ASCII for e-mail local parts and domains."""
    text = text.replace("ß", "ss").replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def slug(text: str, sep: str = "") -> str:
    return re.sub(r"[^a-z0-9]+", sep, ascii_fold(text).lower()).strip(sep)


def base62(number: int, width: int) -> str:
    chars: list[str] = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars)).rjust(width, "0")


def salesforce_id(prefix: str, number: int) -> str:
    """A Salesforce-looking 18-character record id (``003`` contacts, ``006`` opportunities), unique per number."""
    return prefix + "5g" + base62(number, 13)


def uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """Random (seeded) version-4 UUID strings, as analytics libraries use for anonymous ids."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = raw.tobytes().hex()
    out: list[str] = []
    for i in range(0, 32 * n, 32):
        h = hexed[i : i + 32]
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def money(value: float) -> str:
    """A Numeric(…, 2) value as text: exact on PostgreSQL, numeric affinity on SQLite."""
    return f"{value:.2f}"


def store_project_file(session: Session, name: str, content: Any, now: datetime, *, message: str) -> None:
    """Add one file of the project (``routing.yml``, ``scoring.yml``) to the latest applied version's
    manifest, as a new version, so whatever else is applied stays applied and ``pitboard apply`` of a project
    without the file later removes what it defines."""
    latest = session.scalar(select(ProjectVersion).order_by(ProjectVersion.version.desc()).limit(1))
    manifest = dict(latest.manifest) if latest is not None else {"pitboard.yml": {"name": "demo"}}
    manifest[name] = content
    version = (latest.version if latest is not None else 0) + 1
    kind = name.removesuffix(".yml")
    session.add(ProjectVersion(version=version, applied_at=now, actor="demo", checksum=checksum_of(manifest),
                               manifest=manifest, changes={kind: {"added": [message]}}, message=message))  # fmt: skip
    session.flush()
