"""dlrun on a GPU against the plain Keras-on-JAX script a user would write, with dlrun's phase timings.

    python bench/gpu.py                          # every case at full size, 2 alternating runs each
    python bench/gpu.py --scale 0.05 --runs 1    # a quick check of the script itself (a CPU will do)

Needs Keras and JAX (with CUDA for the GPU figures), scikit-learn and dlrun; no TensorFlow: dlrun
runs every case with `--backend jax` and the scripts with KERAS_BACKEND=jax. The cases:

    table       2,000,000 x 50 rows, MLP 256-256, batch 1024, 3 epochs (bench/scripts/synthetic_keras.py)
    cnn         50,000 x 32x32x3 images, small CNN, batch 128, 3 epochs (bench/scripts/cnn_keras.py)
    cnn_mixed   the same with mixed precision (training.mixed_precision / mixed_float16)
    iris_kfold  configs/iris_kfold.yaml, 10 folds x 100 epochs (bench/scripts/iris_kfold_keras.py)

Each command is a fresh process (imports and start-up included); the table shows the medians, their
ratio (dlrun / script) and dlrun's phases from run.json beside the script's fit seconds. Results go to
bench/gpu_results.json too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import DLRUN, PY, ROOT, measure, run_phases  # noqa: E402 - bench/run.py: one fresh, measured process

SCRIPTS = ROOT / "bench" / "scripts"
JAX_TWIN = [*PY, str(SCRIPTS / "jax_twin.py")]

TABLE_SPEC = """
name: gpu-table
seed: 0
data: {source: "npz:DATA"}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Dense: {units: 256, activation: relu}
    - Dense: {units: 256, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
optimizer: {name: adam, learning_rate: 0.001}
training: {epochs: 3, batch_size: 1024, backend: jax}
output: {plots: false}
"""

CNN_SPEC = """
name: gpu-cnn
seed: 0
data: {source: "npz:DATA"}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Conv2D: {filters: 32, kernel_size: 3, activation: relu}
    - MaxPooling2D: {pool_size: 2}
    - Conv2D: {filters: 64, kernel_size: 3, activation: relu}
    - MaxPooling2D: {pool_size: 2}
    - Flatten: {}
    - Dense: {units: 128, activation: relu}
    - Dense: {units: 10, activation: softmax}
optimizer: {name: adam, learning_rate: 0.001}
training: {epochs: 3, batch_size: 128, backend: jax, mixed_precision: MIXED}
output: {plots: false}
"""


def write_table(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 50)).astype("float32")
    weights = rng.normal(size=50)
    y = ((x @ weights + rng.normal(scale=2.0, size=rows)) > 0).astype("int64")
    np.savez(path, x=x, y=y)


def write_images(path: Path, count: int) -> None:
    """10 classes of 32x32 RGB arrays: a class-coloured square at a random place on noise."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=count)
    x = rng.integers(0, 80, size=(count, 32, 32, 3)).astype("uint8")
    colours = rng.integers(80, 256, size=(10, 3))
    for i in range(count):
        r, c = rng.integers(0, 20, size=2)
        x[i, r:r + 12, c:c + 12] = colours[y[i]]
    np.savez(path, x=x, y=y.astype("int64"))


def dlrun_case(spec_text: str, folder: Path, data: Path | None, command: str = "train", spec_file: Path | None = None):
    def run():
        runs = Path(tempfile.mkdtemp(prefix="dlrun-gpu-", dir=folder))
        spec = spec_file
        if spec is None:
            spec = folder / "spec.yaml"
            spec.write_text(spec_text.replace("DATA", str(data)), encoding="utf-8")
        extra = ["--backend", "jax"] if command == "kfold" else []
        result = measure([*DLRUN, command, str(spec), "--runs-dir", str(runs), *extra])
        run_dir = sorted(runs.iterdir())[-1]
        info = json.loads((run_dir / "run.json").read_text())
        result["phases"] = run_phases(run_dir)
        result["device"] = (info.get("runtime") or {}).get("device")
        return result
    return run


def script_case(*args: str):
    def run():
        result = measure([*JAX_TWIN, *args])
        payload = json.loads(result["stdout"].strip().splitlines()[-1])
        result["fit_seconds"] = payload.get("fit_seconds")
        return result
    return run


def cases(folder: Path, scale: float) -> dict:
    rows, images = max(2000, int(2_000_000 * scale)), max(1000, int(50_000 * scale))
    table, pictures = folder / "table.npz", folder / "images.npz"
    return {
        "table": (f"{rows:,} x 50 table, MLP 256-256, batch 1024, 3 epochs",
                  lambda: table.is_file() or write_table(table, rows),
                  dlrun_case(TABLE_SPEC, folder, table), script_case("synthetic_keras.py", str(table), "1024", "3")),
        "cnn": (f"{images:,} x 32x32x3 images, small CNN, batch 128, 3 epochs",
                lambda: pictures.is_file() or write_images(pictures, images),
                dlrun_case(CNN_SPEC.replace("MIXED", "false"), folder, pictures),
                script_case("cnn_keras.py", str(pictures), "128", "3")),
        "cnn_mixed": ("the same CNN with mixed precision",
                      lambda: pictures.is_file() or write_images(pictures, images),
                      dlrun_case(CNN_SPEC.replace("MIXED", "true"), folder, pictures),
                      script_case("cnn_keras.py", str(pictures), "128", "3", "mixed")),
        "iris_kfold": ("iris 10-fold x 100 epochs (configs/iris_kfold.yaml)", lambda: None,
                       dlrun_case("", folder, None, "kfold", ROOT / "configs" / "iris_kfold.yaml"),
                       script_case("iris_kfold_keras.py")),
    }


def run_case(name: str, case: tuple, runs: int) -> dict:
    title, prepare, ours, theirs = case
    prepare()
    samples = {"dlrun": [], "script": []}
    for index in range(runs):
        order = [("dlrun", ours), ("script", theirs)] if index % 2 == 0 else [("script", theirs), ("dlrun", ours)]
        for label, run in order:
            samples[label].append(run())
            print(f"  {name} {label} run {index + 1}: {samples[label][-1]['seconds']:.1f} s", file=sys.stderr)
    median = {label: statistics.median(s["seconds"] for s in values) for label, values in samples.items()}
    phases = samples["dlrun"][-1].get("phases") or {}
    return {"case": name, "title": title, "dlrun_s": [round(s["seconds"], 2) for s in samples["dlrun"]],
            "script_s": [round(s["seconds"], 2) for s in samples["script"]], "ratio": median["dlrun"] / median["script"],
            "device": samples["dlrun"][-1].get("device"), "dlrun_phases": phases,
            "script_fit_s": [round(s["fit_seconds"] or 0, 2) for s in samples["script"]]}


def table(rows: list[dict]) -> str:
    lines = ["| case | device | dlrun s | script s | ratio | dlrun phases (last run) | script fit s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in row["dlrun_phases"].items())
        lines.append(f"| {row['title']} | {row['device']} | {', '.join(map(str, row['dlrun_s']))} | "
                     f"{', '.join(map(str, row['script_s']))} | {row['ratio']:.2f} | {phases} | "
                     f"{', '.join(map(str, row['script_fit_s']))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["table", "cnn", "cnn_mixed", "iris_kfold"])
    parser.add_argument("--runs", type=int, default=2, help="runs of each command per case, alternating")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data sizes (quick checks)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlrun-gpu-bench-") as place:
        folder = Path(place)
        known = cases(folder, args.scale)
        rows = [run_case(name, known[name], args.runs) for name in args.cases]
    (ROOT / "bench" / "gpu_results.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"),
                                                                 "scale": args.scale, "rows": rows}, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
