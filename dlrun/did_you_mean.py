"""Did-you-mean: the closest known name to a mistyped one, for error messages everywhere
(spec fields, Keras names, data columns, run ids)."""

from __future__ import annotations

import difflib


def _edits(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit ('adma' -> 'adam' is 1)."""
    a, b = a.lower(), b.lower()
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def suggest(word: str, choices) -> str:
    """' — did you mean 'x'?' for the closest choice, or '' when nothing is close.

    Example:
        >>> suggest("untis", ["units", "activation"])
        " — did you mean 'units'?"
    """
    word = str(word)
    choices = [str(c) for c in choices]
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return f" — did you mean '{by_lower[word.lower()]}'?"
    close = set(difflib.get_close_matches(word, choices, n=5, cutoff=0.6))
    close |= {by_lower[c] for c in difflib.get_close_matches(word.lower(), list(by_lower), n=5, cutoff=0.6)}
    if len(word) >= 3:
        close |= {c for c in choices if _edits(word, c) <= max(1, len(word) // 4)}
    if not close:
        return ""
    best = min(close, key=lambda c: (_edits(word, c), -difflib.SequenceMatcher(None, word, c).ratio(), c))
    return f" — did you mean '{best}'?"
