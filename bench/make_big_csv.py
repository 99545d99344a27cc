"""Write bench/data/big.csv: a seeded CSV of at least 2 GB (the streaming benchmark's table).

24 numeric columns (a few cells empty), a categorical `region` and a binary `label` that depends on
some of them; written 250,000 rows at a time, so writing it needs little memory too.

    python bench/make_big_csv.py [PATH] [--gigabytes 2.1]
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

BLOCK = 250_000
REGIONS = np.array(["north", "south", "east", "west", "centre", "coast", "hills", "islands"])


def block(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    x = rng.normal(size=(rows, 24)).astype(np.float32)
    region = rng.integers(0, len(REGIONS), size=rows)
    score = x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + 0.3 * (region % 3) + rng.normal(0, 0.5, rows)
    frame = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(24)])
    frame.loc[rng.random(rows) < 0.01, "x05"] = np.nan
    frame["region"] = REGIONS[region]
    frame["label"] = (score > 0.3).astype(np.int8)
    return frame


def main(path: Path, gigabytes: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    target = gigabytes * 1e9
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        header = True
        while handle.tell() < target:
            block(rng, BLOCK).to_csv(handle, index=False, header=header, float_format="%.5f")
            header = False
    tmp.replace(path)
    print(f"{path}: {path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=Path(__file__).with_name("data") / "big.csv")
    parser.add_argument("--gigabytes", type=float, default=2.1)
    args = parser.parse_args()
    main(args.path, args.gigabytes)
