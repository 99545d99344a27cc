"""Generate configs/data/orders/part-0.parquet and part-1.parquet: a shop's orders split over two
Parquet files, for the Parquet example (and a model worth exporting).

Each order has a weight (kg; some missing), a price, a colour (red / green / blue; a few missing),
a free-text `notes` column the example never reads, and whether it was `returned`: heavy red
parcels and very heavy ones come back more often. Run:

    python configs/data/make_orders.py      # rewrites configs/data/orders/ (seeded; needs pyarrow)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROWS_PER_FILE = 300
FOLDER = Path(__file__).resolve().parent / "orders"


def make(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weight = rng.gamma(4.0, 0.6, size=ROWS_PER_FILE).round(3)
    price = rng.uniform(5, 80, size=ROWS_PER_FILE).round(2)
    color = rng.choice(["red", "green", "blue"], size=ROWS_PER_FILE).astype(object)
    risk = 1.4 * (weight - 2.4) + 1.2 * (color == "red") - 0.01 * price + rng.normal(0, 0.8, size=ROWS_PER_FILE)
    returned = np.where(risk > 0.6, "returned", "kept")
    weight[rng.random(ROWS_PER_FILE) < 0.06] = np.nan
    color[rng.random(ROWS_PER_FILE) < 0.03] = None
    notes = [f"order {seed}-{i}: {'fragile' if i % 7 == 0 else 'standard'} parcel" for i in range(ROWS_PER_FILE)]
    return pd.DataFrame({"weight": weight, "price": price, "color": color, "notes": notes, "returned": returned})


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for part in range(2):
        path = FOLDER / f"part-{part}.parquet"
        make(seed=30 + part).to_parquet(path, index=False)
        print(f"wrote {path} ({ROWS_PER_FILE} rows)")


if __name__ == "__main__":
    main()
