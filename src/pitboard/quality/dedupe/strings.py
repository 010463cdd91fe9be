"""String similarity for field comparisons: Jaro-Winkler, optimal-string-alignment distance, Soundex.

Pure Python; callers compare each distinct pair of values once and cache the result, so the cost
scales with the number of distinct value pairs, not with the number of record pairs.
"""

from __future__ import annotations

__all__ = ["jaro_winkler", "osa_distance", "soundex"]

_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def jaro_winkler(a: str, b: str, prefix_scale: float = 0.1) -> float:
    """Jaro-Winkler similarity in [0, 1]; 1 means equal. Rewards a common prefix of up to 4 characters."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    jaro = _jaro(a, b)
    prefix = 0
    for ca, cb in zip(a[:4], b[:4], strict=False):
        if ca != cb:
            break
        prefix += 1
    return jaro + prefix * prefix_scale * (1.0 - jaro)


def _jaro(a: str, b: str) -> float:
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    b_used = [False] * len(b)
    a_matched: list[str] = []
    for i, ca in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_used[j] and b[j] == ca:
                b_used[j] = True
                a_matched.append(ca)
                break
    matches = len(a_matched)
    if matches == 0:
        return 0.0
    b_matched = [cb for cb, used in zip(b, b_used, strict=True) if used]
    transpositions = sum(x != y for x, y in zip(a_matched, b_matched, strict=True)) // 2
    return (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3.0


def osa_distance(a: str, b: str, limit: int = 3) -> int:
    """Edit distance counting insertions, deletions, substitutions and adjacent transpositions.

    Returns ``limit`` as soon as the distance is known to be at least ``limit``: matching only asks
    "1 or 2?", and stopping early keeps long, different strings cheap.
    """
    if a == b:
        return 0
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[len(b)], limit)


def soundex(word: str) -> str:
    """American Soundex of a folded word ("robert" → "r163"); "" when it has no letters.

    Used as a blocking key for surnames, so a misspelt consonant-preserving typo lands in the same block.
    """
    letters = [c for c in word.lower() if "a" <= c <= "z"]
    if not letters:
        return ""
    out = [letters[0]]
    last = _SOUNDEX_CODES.get(letters[0], "")
    for c in letters[1:]:
        code = _SOUNDEX_CODES.get(c, "")
        if code and code != last:
            out.append(code)
            if len(out) == 4:
                break
        if c not in "hw":  # h and w do not separate equal codes; vowels do
            last = code
    return "".join(out).ljust(4, "0")
