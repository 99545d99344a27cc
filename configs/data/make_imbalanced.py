"""Generate configs/data/imbalanced.csv: a small imbalanced binary table (about 5% positives) for
configs/imbalanced_binary.yaml.

400 rows; `signal` separates the classes (positives sit about two standard deviations higher),
`noise_a`, `noise_b` and the categorical `region` carry nothing. Target: `fraud` (0 or 1). Run:

    python configs/data/make_imbalanced.py      # rewrites configs/data/imbalanced.csv (seeded)
"""

from __future__ import annotations

import numpy as np

from rows_csv import write_rows

ROWS, POSITIVE_SHARE, SHIFT = 400, 0.05, 2.2


def make(seed: int = 13) -> list[dict]:
    rng = np.random.default_rng(seed)
    fraud = np.zeros(ROWS, dtype=int)
    fraud[rng.choice(ROWS, int(round(ROWS * POSITIVE_SHARE)), replace=False)] = 1
    signal = rng.normal(0.0, 1.0, ROWS) + SHIFT * fraud
    rows = []
    for i in range(ROWS):
        rows.append({"signal": round(float(signal[i]), 4), "noise_a": round(float(rng.normal(0, 1)), 4),
                     "noise_b": round(float(rng.uniform(0, 10)), 4),
                     "region": str(rng.choice(["north", "south", "east"])), "fraud": int(fraud[i])})
    return rows


def main() -> None:
    rows = make()
    path = write_rows(rows, "imbalanced.csv")
    print(f"wrote {path} ({len(rows)} rows, {sum(r['fraud'] for r in rows)} positives)")


if __name__ == "__main__":
    main()
