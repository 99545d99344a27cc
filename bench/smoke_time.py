"""Wall time of `dlrun smoke configs/` as CI runs it: a fresh process, whole command, alternating the
variants in one run so that they share the machine's mood; medians.

    .venv/bin/python bench/smoke_time.py                 # 3 runs of each variant
    .venv/bin/python bench/smoke_time.py --runs 1 --variants default jobs2

Variants: `default` (one process, --jobs 1), `jobs2` (--jobs 2), `plots` (--plots). Each run's JUnit
file is checked: every spec passed or was skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DLRUN = [str(Path(sys.executable).parent / "dlrun"), "smoke", "configs/"]
VARIANTS = {"default": [], "jobs2": ["--jobs", "2"], "plots": ["--plots"]}


def run_once(options: list[str]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory(prefix="dlrun-bench-smoke-") as folder:
        junit = Path(folder) / "smoke.xml"
        started = time.perf_counter()
        proc = subprocess.run([*DLRUN, "--junit", str(junit), *options], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"dlrun smoke failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        suite = ET.parse(junit).getroot().find("testsuite")
        counts = {key: int(suite.get(key)) for key in ("tests", "failures", "errors", "skipped")}
    return {"seconds": seconds, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    samples: dict[str, list[dict]] = {name: [] for name in args.variants}
    for index in range(args.runs):
        order = args.variants if index % 2 == 0 else list(reversed(args.variants))
        for name in order:
            samples[name].append(run_once(VARIANTS[name]))
            print(f"  {name} run {index + 1}: {samples[name][-1]['seconds']:.1f} s", file=sys.stderr)
    print(f"cores: {os.cpu_count()}, load average before the last run: {os.getloadavg()[0]:.2f}")
    print("| command | median s | runs s | specs | passed | skipped |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.variants:
        runs = samples[name]
        last = runs[-1]
        passed = last["tests"] - last["skipped"] - last["failures"] - last["errors"]
        command = " ".join(["dlrun smoke configs/", *VARIANTS[name]])
        each = ", ".join(f"{r['seconds']:.1f}" for r in runs)
        print(f"| `{command}` | {statistics.median(r['seconds'] for r in runs):.1f} | {each} | {last['tests']} | "
              f"{passed} | {last['skipped']} |")


if __name__ == "__main__":
    main()
