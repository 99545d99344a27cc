"""Generate configs/data/reviews.csv: a small synthetic table for the two-input graph examples.

Each row is a short "review" as 12 word ids (tok_0..tok_11, vocabulary of 40, 0 = padding)
plus two numeric columns and one categorical column. Targets: `positive` (binary: driven
by which words appear and the helpful votes) and `stars` (a regression target). Run:

    python configs/data/make_reviews.py      # rewrites configs/data/reviews.csv (seeded)
"""

from __future__ import annotations

import numpy as np

from rows_csv import write_rows

ROWS, LENGTH, VOCAB = 600, 12, 40
GOOD, BAD = range(3, 9), range(9, 15)   # word ids that push the sentiment up or down


def make(seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(ROWS):
        length = int(rng.integers(4, LENGTH + 1))
        words = rng.integers(1, VOCAB, size=length)
        votes = float(rng.gamma(2.0, 3.0))
        channel = str(rng.choice(["web", "app", "store"]))
        signal = sum(w in GOOD for w in words) - sum(w in BAD for w in words) + 0.08 * votes
        signal += {"web": 0.0, "app": 0.3, "store": -0.3}[channel] + rng.normal(0, 0.6)
        stars = float(np.clip(3 + 0.8 * signal + rng.normal(0, 0.3), 1, 5))
        padded = [0] * (LENGTH - length) + [int(w) for w in words]
        row = {f"tok_{i}": padded[i] for i in range(LENGTH)}
        row.update(length=length, helpful_votes=round(votes, 2), channel=channel,
                   positive=int(signal > 0.5), stars=round(stars, 2))
        rows.append(row)
    return rows


def main() -> None:
    rows = make()
    path = write_rows(rows, "reviews.csv")
    print(f"wrote {path} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
