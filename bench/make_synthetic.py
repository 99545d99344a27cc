"""Write bench/data/synthetic.npz: 200,000 x 50 seeded binary classification rows (x, y)."""

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

ROWS, COLUMNS = 200_000, 50


def main(path: Path) -> None:
    x, y = make_classification(n_samples=ROWS, n_features=COLUMNS, n_informative=20, n_redundant=10,
                               class_sep=0.8, random_state=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("data") / "synthetic.npz")
