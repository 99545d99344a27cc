"""What the inference tests share: the specs and data of their tiny runs, and small readers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.runs.rundir import RunDir

PNG = b"\x89PNG\r\n\x1a\n"

BINARY = """
name: tiny-binary
seed: 6
data: {source: "csv:pets.csv", target: label}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
training: {epochs: 2, batch_size: 16}
"""

REGRESSION = """
name: tiny-regression
seed: 7
data: {source: "csv:houses.csv", target: price}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1}
training: {epochs: 2, batch_size: 16}
"""


# A shop's orders: numbers with gaps (imputed), a categorical colour, a binary label
SHOP = """
name: tiny-shop
seed: 8
data: {source: "csv:shop.csv", target: label, categorical: [color], impute: median}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 2, activation: softmax}
training: {epochs: 2, batch_size: 16}
"""


def shop_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Orders: `returned` when weight is high and the colour is red; some weights and colours missing."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(2.0, 1.0, size=n).round(3)
    price = rng.uniform(5, 50, size=n).round(2)
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    label = np.where((weight > 2.0) & (color == "red") | (weight > 3.0), "returned", "kept")
    weight[rng.random(n) < 0.1] = np.nan
    color[rng.random(n) < 0.05] = None
    return pd.DataFrame({"weight": weight, "price": price, "color": color, "label": label})


# Three classes from numbers of very different ranges (0-1, 0-1,000 with gaps, ±50,000) and a categorical
# kind (with gaps): the int8 export's case, where raw columns must not share one quantization scale
RANGES = """
name: tiny-ranges
seed: 1
data: {source: "csv:ranges.csv", target: label, categorical: [kind]}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 3, activation: softmax}
training: {epochs: 3, batch_size: 32}
"""


def ranges_frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """`low`, `mid` or `high` by a score that every column moves by about as much; 5% of `mid` and 3% of
    `kind` missing."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 1, n).round(4)
    mid = rng.uniform(0, 1000, n).round(2)
    big = rng.uniform(-50_000, 50_000, n).round(1)
    kind = rng.choice(["a", "b", "c", "d"], n).astype(object)
    score = 2 * (small - 0.5) + (mid - 500) / 300 + big / 30_000 + np.select([kind == "a", kind == "b"], [1.0, -1.0])
    label = np.select([score < -1, score > 1], ["low", "high"], "mid")
    mid[rng.random(n) < 0.05] = np.nan
    kind[rng.random(n) < 0.03] = None
    return pd.DataFrame({"small": small, "mid": mid, "big": big, "kind": kind, "label": label})


def pets_frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Binary pets: label dog when a + b > 0, else cat; c is noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(4)
    label = np.where(x[:, 0] + x[:, 1] > 0, "dog", "cat")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label})


def houses_csv() -> str:
    """60 houses whose price is 3 x rooms - age plus a little noise."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)).round(4)
    price = (3 * x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=60)).round(4)
    frame = pd.DataFrame({"rooms": x[:, 0], "age": x[:, 1], "area": x[:, 2], "price": price})
    return frame.to_csv(index=False)


def iris_csv(rows: np.ndarray, path: Path, with_target: bool = False) -> Path:
    """Rows of scikit-learn's iris as a CSV, with or without its `target` column."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.iloc[rows]
    if not with_target:
        frame = frame.drop(columns=["target"])
    frame.to_csv(path, index=False)
    return path


def metrics(run: RunDir) -> dict:
    return json.loads(run.file("metrics.json").read_text())


def splits(run: RunDir) -> dict:
    return json.loads(run.file("splits.json").read_text())


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root, evaluations/ and the writer lock (which names its last holder) left out."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != "evaluations" and p.name != "run.lock"}


def is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 100 and path.read_bytes()[:8] == PNG


def crashing_int8_conversion(saved_model, calibration, networks, out, error):
    """Stands in for the int8 converter in its child process (dlrun.inference.litert_int8): dies of SIGSEGV,
    as TensorFlow Lite's calibrator does on some recurrent models."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
