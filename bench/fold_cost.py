"""The fixed cost of a k-fold fold, on each backend: what a fold pays besides its epochs.

    python bench/fold_cost.py                       # configs/iris_kfold.yaml, both backends
    python bench/fold_cost.py --backends jax --config configs/iris_kfold.yaml

Runs `dlrun kfold CONFIG --jobs 1` and reads every fold's run.json: `build_seconds` (backend
start, build and compile, or the reset of the model the process already compiled) and the first
epoch's time beyond the median epoch (tracing or compiling the train function). Fold 1 pays for
both; later folds reuse its compiled model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DLRUN = str(Path(sys.executable).parent / "dlrun")


def fold_costs(config: str, backend: str) -> list[dict]:
    runs = tempfile.mkdtemp(prefix="dlrun-foldcost-")
    subprocess.run([DLRUN, "kfold", config, "--runs-dir", runs, "--jobs", "1", "--backend", backend],
                   cwd=ROOT, check=True, capture_output=True)
    run = sorted(Path(runs).iterdir())[-1]
    rows = []
    for info_file in sorted(run.glob("folds/*/run.json")):
        info = json.loads(info_file.read_text())
        epochs = info["epoch_seconds"]
        first_extra = epochs[0] - statistics.median(epochs[1:]) if len(epochs) > 1 else 0.0
        rows.append({"fold": info["fold"], "build_s": info["build_seconds"], "first_epoch_extra_s": first_extra,
                     "epochs_s": sum(epochs), "fit_s": info["fit_seconds"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/iris_kfold.yaml")
    parser.add_argument("--backends", nargs="*", default=["tensorflow", "jax"])
    args = parser.parse_args()
    print("| backend | fold 1: build s | fold 1: first-epoch extra s | later folds: build s (median) | "
          "later folds: first-epoch extra s (median) | median fold fit s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for backend in args.backends:
        rows = fold_costs(args.config, backend)
        later = rows[1:]
        print(f"| {backend} | {rows[0]['build_s']:.2f} | {rows[0]['first_epoch_extra_s']:.2f} | "
              f"{statistics.median(r['build_s'] for r in later):.3f} | "
              f"{statistics.median(r['first_epoch_extra_s'] for r in later):.3f} | "
              f"{statistics.median(r['fit_s'] for r in rows):.2f} |")


if __name__ == "__main__":
    main()
