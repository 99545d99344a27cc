"""How fast a streamed CSV is parsed (`data.streaming: true`), in MB/s of the file, Arrow against pandas.

    python bench/parse_rate.py /tmp/big.csv --gigabytes 0.4          # writes the file first if it is missing
    python bench/parse_rate.py /tmp/big.csv --runs 3 --engines arrow pandas

Two passes per run, each in this process, the engines alternating:
  opening pass   scan_table: every chunk parsed, with the checks, row hashes and targets of a table's opening
  read pass      StreamedTable.frames() over every row: the chunks as the statistics pass and each epoch read them
The file is `bench/make_big_csv.py`'s table (24 numeric columns, a categorical `region`, a 0/1 `label`). The
engines' opening passes must give the same row hashes, empty cells and targets (checked on every run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEC = """
name: parse-rate
seed: 0
data: {{source: "csv:{path}", target: label, categorical: [region], streaming: true}}
model: {{layers: [{{Dense: {{units: 1, activation: sigmoid}}}}]}}
"""


def passes(path: Path, engine: str) -> tuple[float, float, object]:
    """(opening pass s, read pass s, the Dataset) with one engine."""
    from dlrun.data import csv_chunks
    from dlrun.data.table_scan import scan_table
    from dlrun.spec import load_spec

    csv_chunks.ARROW = engine == "arrow"
    with tempfile.TemporaryDirectory() as folder:
        spec_file = Path(folder) / "spec.yaml"
        spec_file.write_text(SPEC.format(path=path.resolve()), encoding="utf-8")
        spec = load_spec(spec_file).spec
    started = time.perf_counter()
    dataset = scan_table(spec.data, path, None)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    rows = sum(len(positions) for positions, _ in dataset.features.frames())
    read = time.perf_counter() - started
    assert rows == len(dataset.features)
    return opened, read, dataset


def same(a, b) -> bool:
    ta, tb = a.features, b.features
    return (np.array_equal(ta.keys, tb.keys) and ta.missing.keys() == tb.missing.keys()
            and all(np.array_equal(ta.missing[c], tb.missing[c]) for c in ta.missing)
            and all(np.array_equal(a.targets[t], b.targets[t]) for t in a.targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--gigabytes", type=float, default=0.4, help="size of the file written when it is missing")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engines", nargs="*", default=["pandas", "arrow"], choices=["pandas", "arrow"])
    args = parser.parse_args()
    if not args.path.exists():
        from bench.make_big_csv import main as make

        make(args.path, args.gigabytes)
    megabytes = args.path.stat().st_size / 1e6
    times: dict[str, list[tuple[float, float]]] = {e: [] for e in args.engines}
    for run in range(args.runs):
        scans = {}
        for engine in args.engines:
            opened, read, scans[engine] = passes(args.path, engine)
            times[engine].append((opened, read))
            print(f"run {run + 1} {engine}: opening pass {opened:.2f} s = {megabytes / opened:.0f} MB/s, "
                  f"read pass {read:.2f} s = {megabytes / read:.0f} MB/s", flush=True)
        first, *others = scans.values()
        assert all(same(first, other) for other in others), "the engines' opening passes differ"
    print(f"\n{args.path}: {megabytes:.0f} MB, medians of {args.runs} run(s)")
    print("| engine | opening pass s | opening MB/s | read pass s | read MB/s |")
    print("| --- | --- | --- | --- | --- |")
    for engine, pairs in times.items():
        opened, read = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        print(f"| {engine} | {opened:.2f} | {megabytes / opened:.0f} | {read:.2f} | {megabytes / read:.0f} |")


if __name__ == "__main__":
    main()
