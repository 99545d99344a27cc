"""dlrun against the hand-written Keras script it replaces, in the same run, alternating.

    python bench/run.py                 # every case, 3 runs each (make bench)
    python bench/run.py --cases digits --runs 5

For each case both commands run as fresh processes, in alternating order, several times; the
table shows medians of wall time, their ratio (dlrun / script), accuracy side by side, and peak
memory (max resident set size of the process). Results also go to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DLRUN = [str(BIN / "dlrun")]
PY = [sys.executable]
SYNTHETIC = ROOT / "bench" / "data" / "synthetic.npz"
IMAGES = ROOT / "bench" / "data" / "images"   # 2,000 generated 64x64 PNGs in 10 classes
BIG_CSV = ROOT / "bench" / "data" / "big.csv"  # over 2 GB of generated rows (data.streaming)


def measure(command: list[str]) -> dict:
    """Wall seconds, peak RSS (MiB) and stdout of one fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, env=env, text=True)
        # wait4 reaps the child and reports its own rusage: ru_maxrss is its peak memory (KiB on Linux)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{stderr[-2000:]}")
    return {"seconds": seconds, "peak_mib": peak, "stdout": stdout}


def _runs_dir() -> str:
    return tempfile.mkdtemp(prefix="dlrun-bench-")


def _latest(runs_dir: str) -> Path:
    return sorted(Path(runs_dir).iterdir())[-1]


def run_phases(run_dir: Path) -> dict:
    """dlrun's seconds per phase (run.json `phases`); a k-fold or sweep run's folds or trials added up."""
    info = run_dir / "run.json"
    if info.is_file() and json.loads(info.read_text()).get("phases"):
        return json.loads(info.read_text())["phases"]
    total: dict[str, float] = {}
    for part in sorted([*run_dir.glob("folds/*/run.json"), *run_dir.glob("trials/*/run.json")]):
        for name, seconds in (json.loads(part.read_text()).get("phases") or {}).items():
            total[name] = total.get(name, 0.0) + seconds
    return {k: round(v, 3) for k, v in total.items()}


def dlrun_train(config: str, *options: str):
    def run():
        runs = _runs_dir()
        result = measure([*DLRUN, "train", config, "--runs-dir", runs, *options])
        run_dir = _latest(runs)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        info = json.loads((run_dir / "run.json").read_text())
        result.update(accuracy=metrics[metrics.get("part", "test")]["accuracy"], fit_seconds=info["fit_seconds"],
                      train_rows=metrics["split"]["train"], phases=run_phases(run_dir))
        return result
    return run


def dlrun_kfold(config: str, jobs: int, *options: str):
    def run():
        runs = _runs_dir()
        result = measure([*DLRUN, "kfold", config, "--runs-dir", runs, "--jobs", str(jobs), *options])
        summary = json.loads((_latest(runs) / "summary.json").read_text())
        result.update(accuracy=summary["stats"]["accuracy"]["mean"], accuracy_std=summary["stats"]["accuracy"]["std"],
                      phases=run_phases(_latest(runs)))
        return result
    return run


def script(path: str, *args: str, jax: bool = False):
    """A hand-written baseline; with `jax`, its JAX-backend twin (the same script on KERAS_BACKEND=jax)."""
    def run():
        scripts = ROOT / "bench" / "scripts"
        command = [str(scripts / "jax_twin.py"), path] if jax else [str(scripts / path)]
        result = measure([*PY, *command, *args])
        payload = json.loads(result["stdout"].strip().splitlines()[-1])
        result.update(accuracy=payload.get("accuracy", payload.get("accuracy_mean")),
                      accuracy_std=payload.get("accuracy_std"), fit_seconds=payload.get("fit_seconds"),
                      train_rows=payload.get("train_rows"))
        return result
    return run


def plain(command: list[str]):
    def run():
        return measure(command)
    return run


JAX = ("--backend", "jax")
REPEATED = ("--set", "split.protocol=repeated_kfold", "--set", "split.folds=5", "--set", "split.repeats=8")
CASES = {
    "iris_kfold": ("iris 10-fold stratified x 100 epochs, batch 5 (dlrun --jobs 1)",
                   dlrun_kfold("configs/iris_kfold.yaml", 1), script("iris_kfold_keras.py")),
    "iris_kfold_jobs2": ("iris 10-fold, dlrun --jobs 2",
                         dlrun_kfold("configs/iris_kfold.yaml", 2), script("iris_kfold_keras.py")),
    "digits": ("digits MLP holdout, 30 epochs, batch 32 (whole command)",
               dlrun_train("configs/digits_mlp.yaml"), script("digits_mlp_keras.py")),
    "synthetic": ("synthetic 200,000 x 50, MLP 256-256, 3 epochs, batch 256",
                  dlrun_train("bench/configs/synthetic.yaml"), script("synthetic_keras.py", str(SYNTHETIC))),
    "iris_kfold_jax": ("JAX: iris 10-fold (dlrun --jobs 1 --backend jax vs the script on JAX)",
                       dlrun_kfold("configs/iris_kfold.yaml", 1, *JAX), script("iris_kfold_keras.py", jax=True)),
    "digits_jax": ("JAX: digits MLP holdout (whole command)",
                   dlrun_train("configs/digits_mlp.yaml", *JAX), script("digits_mlp_keras.py", jax=True)),
    "synthetic_jax": ("JAX: synthetic 200,000 x 50",
                      dlrun_train("bench/configs/synthetic.yaml", *JAX),
                      script("synthetic_keras.py", str(SYNTHETIC), jax=True)),
    "iris_repeated_ray": ("iris repeated 5-fold x 8 (40 folds x 100 epochs): dlrun --executor ray, a local Ray with "
                          "2 workers, against dlrun --executor local --jobs 1 (in the script column)",
                          dlrun_kfold("configs/iris_kfold.yaml", 1, *REPEATED, "--executor", "ray"),
                          dlrun_kfold("configs/iris_kfold.yaml", 1, *REPEATED)),
    "images": ("image folder: 2,000 64x64 PNGs in 10 classes, small CNN, 5 epochs (dlrun vs "
               "image_dataset_from_directory)", dlrun_train("bench/configs/images.yaml"),
               script("images_keras.py", str(IMAGES))),
    "streaming": ("streamed CSV of 2.1 GB (10 million rows x 26), MLP 64-32, 1 epoch, batch 1024 (peak memory; "
                  "no script: read whole, the table alone would not fit the goal)",
                  dlrun_train("bench/configs/streaming.yaml"), None),
    "help": ("dlrun --help", plain([*DLRUN, "--help"]), None),
    "validate": ("dlrun validate configs/digits_mlp.yaml", plain([*DLRUN, "validate", "configs/digits_mlp.yaml"]), None),
}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run_case(name: str, runs: int) -> dict:
    title, ours, theirs = CASES[name]
    results = {"dlrun": [], "script": []}
    for index in range(runs):
        order = [("dlrun", ours), ("script", theirs)] if index % 2 == 0 else [("script", theirs), ("dlrun", ours)]
        for label, run in order:
            if run is not None:
                results[label].append(run())
                print(f"  {name} {label} run {index + 1}: {results[label][-1]['seconds']:.2f}s", file=sys.stderr)
    row = {"case": name, "title": title}
    for label in ("dlrun", "script"):
        samples = results[label]
        if not samples:
            continue
        row[label] = {"seconds": median([s["seconds"] for s in samples]),
                      "peak_mib": median([s.get("peak_mib") for s in samples]),
                      "accuracy": median([s.get("accuracy") for s in samples]),
                      "all_seconds": [round(s["seconds"], 3) for s in samples],
                      "phases": samples[-1].get("phases"), "fit_seconds": median([s.get("fit_seconds") for s in samples])}
        if samples[0].get("fit_seconds") and samples[0].get("train_rows"):
            epochs = 3
            row[label]["samples_per_s"] = median([s["train_rows"] * epochs / s["fit_seconds"] for s in samples])
    if "script" in row:
        row["time_ratio"] = row["dlrun"]["seconds"] / row["script"]["seconds"]
        if row["dlrun"].get("peak_mib") and row["script"].get("peak_mib"):
            row["memory_ratio"] = row["dlrun"]["peak_mib"] / row["script"]["peak_mib"]
        if row["dlrun"].get("samples_per_s") and row["script"].get("samples_per_s"):
            row["throughput_ratio"] = row["dlrun"]["samples_per_s"] / row["script"]["samples_per_s"]
    return row


def fmt(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    lines = ["| case | dlrun s | script s | ratio | dlrun acc | script acc | throughput ratio | dlrun MiB | script MiB | memory ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ours, theirs = row.get("dlrun", {}), row.get("script", {})
        lines.append(f"| {row['title']} | {fmt(ours.get('seconds'))} | {fmt(theirs.get('seconds'))} | "
                     f"{fmt(row.get('time_ratio'))} | {fmt(ours.get('accuracy'), 4)} | {fmt(theirs.get('accuracy'), 4)} | "
                     f"{fmt(row.get('throughput_ratio'))} | {fmt(ours.get('peak_mib'), 0)} | "
                     f"{fmt(theirs.get('peak_mib'), 0)} | {fmt(row.get('memory_ratio'))} |")
    return "\n".join(lines)


def phase_table(rows: list[dict]) -> str:
    """Where dlrun's time went (its last run of each case), beside the script's own fit seconds."""
    lines = ["| case | dlrun phases, s (last run) | dlrun fit s | script fit s |", "| --- | --- | --- | --- |"]
    for row in rows:
        ours, theirs = row.get("dlrun", {}), row.get("script", {})
        phases = ", ".join(f"{name} {seconds:.2f}" for name, seconds in (ours.get("phases") or {}).items())
        fit = (ours.get("phases") or {}).get("fit", ours.get("fit_seconds"))
        lines.append(f"| {row['case']} | {phases or '—'} | {fmt(fit)} | {fmt(theirs.get('fit_seconds'))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--runs", type=int, default=3, help="runs of each command per case (medians are shown)")
    args = parser.parse_args()
    if any(case.startswith("synthetic") for case in args.cases) and not SYNTHETIC.is_file():
        subprocess.run([*PY, str(ROOT / "bench" / "make_synthetic.py"), str(SYNTHETIC)], check=True)
    if "images" in args.cases and not IMAGES.is_dir():
        code = ("import sys; sys.path.insert(0, 'configs/data'); from make_shapes import write_shapes; "
                f"write_shapes({str(IMAGES)!r}, per_class=200, size=64, classes=10, seed=0)")
        subprocess.run([*PY, "-c", code], check=True, cwd=ROOT)
    if "streaming" in args.cases and not BIG_CSV.is_file():
        subprocess.run([*PY, str(ROOT / "bench" / "make_big_csv.py"), str(BIG_CSV)], check=True)
    rows = [run_case(name, args.runs) for name in args.cases]
    (ROOT / "bench" / "results.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"),
                                                              "rows": rows}, indent=2) + "\n")
    print(table(rows))
    print()
    print(phase_table(rows))


if __name__ == "__main__":
    main()
