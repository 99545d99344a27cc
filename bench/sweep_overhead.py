"""The sweep's own overhead per trial: the whole `dlrun sweep` command's wall time minus the
time its trials took themselves (each trial's `seconds` in trials.csv: loading its spec and data,
training, scoring), divided by the number of trials.

    python bench/sweep_overhead.py                  # configs/iris_sweep.yaml, 10 trials, 2 repeats
    python bench/sweep_overhead.py --trials 20 --repeats 3

What is left is dlrun's and Optuna's share: the process start and imports, the study journal,
asking and telling, trials.csv and best.json after every trial, removing the models `keep`
does not keep, and the final report with its importances and plots. The first trial's own time
includes importing the Keras backend (a hand-written script pays that too).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DLRUN = str(Path(sys.executable).parent / "dlrun")


def one_sweep(config: str, trials: int) -> dict:
    runs = tempfile.mkdtemp(prefix="dlrun-sweepcost-")
    started = time.perf_counter()
    subprocess.run([DLRUN, "sweep", config, "--runs-dir", runs, "--jobs", "1", "--set", f"sweep.trials={trials}",
                    "--set", "sweep.retrain_best=false"], cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    (sweep,) = [p for p in Path(runs).iterdir() if p.is_dir()]
    with open(sweep / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    own = sum(float(r["seconds"]) for r in rows)
    return {"wall_s": round(wall, 2), "trials_s": round(own, 2), "trials": len(rows),
            "overhead_per_trial_s": round((wall - own) / len(rows), 3),
            "statuses": {s: sum(r["status"] == s for r in rows) for s in ("completed", "pruned", "failed")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/iris_sweep.yaml")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = [one_sweep(args.config, args.trials) for _ in range(args.repeats)]
    for result in results:
        print(json.dumps(result))
    print(f"median overhead per trial: {statistics.median(r['overhead_per_trial_s'] for r in results):.3f} s "
          f"({args.trials} trials, --jobs 1, {args.config})")


if __name__ == "__main__":
    main()
