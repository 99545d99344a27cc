"""Peak memory of training on windows over a long series (data.window): does a run hold the steps
once, or a copy of every window?

    python bench/window_memory.py               # 1,000,000 steps x 8 columns, lookback 168 (make bench-windows)
    python bench/window_memory.py --steps 200000 --validation 0

A seeded table of `--steps` rows and 8 float64 columns (the target `y` and 7 covariates x1..x7, all
inputs of every window; no time column: file order) is written once to bench/data/ as Parquet; the
figures go to bench/data/window_memory.json as well as to the screen. Each measurement runs in a fresh
process: it imports what a training run imports (dlrun, TensorFlow, Keras, pandas, pyarrow,
scikit-learn), resets the kernel's high-water mark of its resident set (VmHWM, by writing 5 to
/proc/self/clear_refs) and reads VmRSS as the baseline, trains 1 epoch (`dlrun train` in-process:
holdout split in time order, batch 4096, a Conv1D of 8 filters, plots off), and reads VmHWM again.
The figure is (VmHWM - baseline) against the raw array as pandas reads it (steps x 8 x 8 bytes);
the goal is at most 1.5x. A control run of 10,000 steps, same spec, gives the fixed cost any run
pays (TensorFlow's runtime, the model, the report), whatever the series' length. A thread samples
VmRSS every 20 ms, so the report also says when the peak came (loading, fit, scoring).

    python bench/window_memory.py --stages      # also: where the memory goes, stage by stage

--stages runs one more process in which dlrun's stages (reading the file, building the windows,
fitting and applying the preprocessing, the audit, the fit, predicting, the report's parts) are
wrapped: each one's RSS before, its peak above that and its RSS after (VmHWM is reset at each
stage's start; an enclosing stage's peak takes its inner stages' into account).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
COLUMNS = 8
GOAL = 1.5
CONTROL_STEPS = 10_000
IMPORTS = ("tensorflow", "keras", "pandas", "pyarrow.parquet", "sklearn.linear_model", "sklearn.model_selection",
           "dlrun.protocols.holdout")

# Every window reads all 8 columns (y and its covariates x1..x7 as past inputs); plots off, as in the
# other benchmarks.
SPEC = """\
name: window-memory
seed: 0
data:
  source: parquet:{path}
  target: y
  features: ["x*"]
  window: {{lookback: {lookback}, horizon: 1}}
split: {{test: {test}, validation: {validation}}}
model:
  layers:
    - Conv1D: {{filters: 8, kernel_size: 8, strides: 8, activation: relu}}
    - GlobalAveragePooling1D: {{}}
    - Dense: {{units: 1}}
optimizer: {{name: adam, learning_rate: 0.001}}
training: {{epochs: 1, batch_size: {batch}}}
output: {{plots: false}}
"""


def series_file(steps: int) -> Path:
    """bench/data/window_series_STEPS.parquet: y and x1..x7, float64, seeded; written on first use."""
    path = DATA / f"window_series_{steps}.parquet"
    if path.is_file():
        return path
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    t = np.arange(steps)
    frame = pd.DataFrame({f"x{i}": np.sin(2 * np.pi * t / (24 * (i + 1))) + rng.normal(0, 0.3, steps)
                          for i in range(1, COLUMNS)})
    frame.insert(0, "y", 0.5 * frame["x1"].shift(1, fill_value=0.0) + np.sin(2 * np.pi * t / 168)
                 + rng.normal(0, 0.2, steps))
    DATA.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """VmHWM back to the current VmRSS (Linux >= 4.0); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """VmRSS every `every` seconds."""

    def __init__(self, every: float = 0.02):
        super().__init__(daemon=True)
        self.every, self.samples, self.running = every, [], True

    def run(self) -> None:
        started = time.perf_counter()
        while self.running:
            self.samples.append((time.perf_counter() - started, status_kib("VmRSS")))
            time.sleep(self.every)


STAGES = (  # (module, function or Class.method, what it does), in the order a run reaches them
    ("dlrun.protocols.stages", "prepare", "prepare: load, window, split, fit and apply the preprocessing"),
    ("dlrun.data.parquet", "read_parquet", "read the Parquet file into a DataFrame"),
    ("dlrun.data.window_source", "windowed_dataset", "windows over the table (ordered steps, targets)"),
    ("dlrun.data.time_index", "order_series", "put the rows in time order"),
    ("dlrun.data.feature_data", "WindowFeatures.fit_table", "the training windows' steps, to fit on"),
    ("dlrun.data.preprocess", "FeaturePreprocessor.fit", "fit the scaling and imputation"),
    ("dlrun.data.feature_data", "WindowFeatures.transformed", "transform every step (float32)"),
    ("dlrun.protocols.stages", "build_compiled", "build and compile the model"),
    ("dlrun.protocols.fitting", "audit_of", "the data audit of the split"),
    ("dlrun.train.fit", "fit", "fit: 1 epoch (tf.data gathers each batch of windows)"),
    ("dlrun.model.io", "predict_outputs", "predict the test windows"),
    ("dlrun.report.linear_model", "add_linear_models", "the report's linear model"),
    ("dlrun.report.window_forecast", "add_window_forecasts", "the forecast block and its baselines"),
    ("dlrun.report.evaluation", "write_evaluation", "metrics.json and report.md"),
)


class Stages:
    """Wraps dlrun's stages to record, per call: RSS before, peak (VmHWM) and RSS after, in MiB."""

    def __init__(self):
        self.rows, self.stack, self.count = [], [], 0

    def install(self) -> None:
        import functools
        import importlib

        for module_name, attr, label in STAGES:
            try:
                owner = importlib.import_module(module_name)
                name = attr
                if "." in attr:
                    cls, name = attr.split(".")
                    owner = getattr(owner, cls)
                original = getattr(owner, name)
            except (ImportError, AttributeError):
                print(f"(no stage {module_name}.{attr} in this version)", file=sys.stderr)
                continue

            def wrapper(*args, __original=original, __label=label, **kwargs):
                self.enter()
                try:
                    return __original(*args, **kwargs)
                finally:
                    self.leave(__label)

            wrapped = functools.wraps(original)(wrapper)
            setattr(owner, name, wrapped)
            for module in list(sys.modules.values()):  # the modules that imported the name themselves
                if getattr(module, "__name__", "").startswith("dlrun") and getattr(module, name, None) is original:
                    setattr(module, name, wrapped)

    def enter(self) -> None:
        peak = status_kib("VmHWM")
        for frame in self.stack:
            frame["peak"] = max(frame["peak"], peak)
        reset_peak()
        self.stack.append({"before": status_kib("VmRSS"), "peak": 0, "depth": len(self.stack), "order": self.count})
        self.count += 1

    def leave(self, label: str) -> None:
        peak = status_kib("VmHWM")
        frame = self.stack.pop()
        frame["peak"] = max(frame["peak"], peak)
        for outer in self.stack:
            outer["peak"] = max(outer["peak"], peak)
        self.rows.append({"stage": label, "depth": frame["depth"], "order": frame["order"],
                          "before_mib": frame["before"] / 1024, "peak_mib": frame["peak"] / 1024,
                          "after_mib": status_kib("VmRSS") / 1024})


def child(args) -> dict:
    """One measurement in this (fresh) process; returns the figures as a dict."""
    import importlib

    for module in IMPORTS:  # the imports a training run makes, paid before the baseline
        importlib.import_module(module)
    from dlrun.protocols.holdout import train
    from dlrun.spec import load_spec

    path = series_file(args.steps)
    folder = Path(tempfile.mkdtemp(prefix="dlrun-winmem-"))
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(path=path, lookback=args.lookback, batch=args.batch, test=args.test,
                                validation=args.validation), encoding="utf-8")
    loaded = load_spec(spec, [f"output.runs_dir={folder / 'runs'}"])
    stages = Stages() if args.stages else None
    if stages:
        stages.install()
    reset = reset_peak()
    baseline = status_kib("VmRSS")
    sampler = Sampler()
    sampler.start()
    started = time.perf_counter()
    result = train(loaded)
    seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    peak = status_kib("VmHWM")
    info = json.loads((result.run.path / "run.json").read_text())
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    raw = args.steps * COLUMNS * 8
    top = max(sampler.samples, key=lambda s: s[1]) if sampler.samples else (0.0, 0)
    return {"steps": args.steps, "columns": COLUMNS, "lookback": args.lookback, "batch": args.batch,
            "validation": args.validation, "test": args.test, "raw_mib": raw / 2**20,
            "baseline_mib": baseline / 1024, "peak_mib": peak / 1024, "extra_mib": (peak - baseline) / 1024,
            "ratio": (peak - baseline) * 1024 / raw, "hwm_reset": reset, "seconds": seconds,
            "fit_seconds": info.get("fit_seconds"), "windows": metrics["split"],
            "peak_at_s": round(top[0], 2), "timeline": timeline(sampler.samples),
            "stages": stages.rows if stages else None}


def timeline(samples: list) -> list:
    """The sampled RSS, thinned to about 40 points (seconds, MiB)."""
    if not samples:
        return []
    step = max(1, len(samples) // 40)
    return [(round(s, 2), round(kib / 1024)) for s, kib in samples[::step]]


def measure(steps: int, args, stages: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", "--steps", str(steps), "--lookback", str(args.lookback),
               "--batch", str(args.batch), "--validation", str(args.validation), "--test", str(args.test),
               *(["--stages"] if stages else [])]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--lookback", type=int, default=168)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--validation", type=float, default=0.2)
    parser.add_argument("--test", type=float, default=0.2)
    parser.add_argument("--no-control", action="store_true", help=f"skip the {CONTROL_STEPS:,}-step control run")
    parser.add_argument("--stages", action="store_true", help="also: where the memory goes, stage by stage "
                                                               "(one more process)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    series_file(args.steps)  # written once, outside the measured processes
    rows = [measure(args.steps, args)]
    if not args.no_control:
        series_file(CONTROL_STEPS)
        rows.append(measure(CONTROL_STEPS, args))
    staged = measure(args.steps, args, stages=True) if args.stages else None
    (DATA / "window_memory.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"),
                                                                     "rows": rows, "stages": staged}, indent=2) + "\n")
    print("| steps | raw array MiB | baseline MiB | peak MiB | peak - baseline MiB | ratio to raw | goal | "
          "train s | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        met = "met" if r["ratio"] <= GOAL else "**not met**"
        print(f"| {r['steps']:,} | {r['raw_mib']:.1f} | {r['baseline_mib']:.0f} | {r['peak_mib']:.0f} | "
              f"{r['extra_mib']:.0f} | {r['ratio']:.2f} | {met if r['steps'] == args.steps else '—'} | "
              f"{r['seconds']:.1f} | {r['fit_seconds'] or 0:.1f} |")
    for r in rows:
        print(f"\n{r['steps']:,} steps: windows {r['windows']}; peak at {r['peak_at_s']} s; RSS timeline (s, MiB): "
              f"{r['timeline']}")
    if staged:
        base = staged["baseline_mib"]
        print(f"\nWhere the memory goes ({args.steps:,} steps; MiB above the baseline after imports, "
              f"{base:.0f} MiB; raw array {staged['raw_mib']:.1f} MiB):\n")
        print("| stage | before | peak during | after |")
        print("| --- | --- | --- | --- |")
        for row in sorted(staged["stages"], key=lambda r: r["order"]):
            indent = "&nbsp;&nbsp;" * row["depth"]
            print(f"| {indent}{row['stage']} | {row['before_mib'] - base:+.0f} | {row['peak_mib'] - base:+.0f} | "
                  f"{row['after_mib'] - base:+.0f} |")


if __name__ == "__main__":
    main()
