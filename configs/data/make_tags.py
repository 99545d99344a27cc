"""Generate configs/data/tags.csv: a small synthetic table for the multilabel example.

Each row is a short article described by six numeric scores (word counts of a few topic
vocabularies, length, links). It can carry any of three tags at once — `sports`, `politics`,
`tech` — as three 0/1 columns, and the same sets once more as one column `tags` ('sports|tech';
empty when the article has none). Run:

    python configs/data/make_tags.py      # rewrites configs/data/tags.csv (seeded)
"""

from __future__ import annotations

import numpy as np

from rows_csv import write_rows

ROWS = 400
TAGS = ("sports", "politics", "tech")


def make(seed: int = 11) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(ROWS):
        leaning = rng.normal(0, 1, size=3)             # how much the article is about each topic
        counts = np.clip(np.round(3 + 2.5 * leaning + rng.normal(0, 1, size=3)), 0, None)
        length = int(rng.integers(150, 1500))
        links = int(rng.poisson(2 + 2 * (leaning[2] > 0.3)))
        score = float(rng.normal(0.4 * leaning[0] - 0.2 * leaning[1], 1))
        on = [bool(v > 0.35) for v in leaning + rng.normal(0, 0.3, size=3)]
        row = {"game_words": int(counts[0]), "vote_words": int(counts[1]), "code_words": int(counts[2]),
               "length": length, "links": links, "tone": round(score, 3)}
        row.update({tag: int(flag) for tag, flag in zip(TAGS, on)})
        row["tags"] = "|".join(tag for tag, flag in zip(TAGS, on) if flag)
        rows.append(row)
    return rows


def main() -> None:
    rows = make()
    path = write_rows(rows, "tags.csv")
    print(f"wrote {path} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
