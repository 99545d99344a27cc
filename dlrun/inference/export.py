"""`dlrun export RUN`: the run's model with its preprocessing baked in, in the formats asked for, each
loaded back in its own runtime and checked against `dlrun predict` on the run's held-out rows.

Float formats must agree with predict within 1e-5 + 1e-5 × |predict| on every output (np.isclose's
rule; the largest absolute difference is reported); quantized ones must predict the same class (or label set) for at least 99% of the rows; a regression
output of a quantized format has its relative error reported, not gated. The figures go to
`export/report.json`; a check that fails exits 1 after both JSON files are written.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlrun.data.feature_data import feature_data
from dlrun.did_you_mean import suggest
from dlrun.errors import RunFailed, UserError
from dlrun.inference import export_formats
from dlrun.inference.evaluate import own_dataset
from dlrun.inference.export_formats import FORMATS, QUANTIZATIONS, Format
from dlrun.inference.predict import predictions
from dlrun.inference.raw_model import RawOutput, build_raw_model, raw_outputs
from dlrun.inference.saved_run import SavedRun, load_saved_run
from dlrun.model.backend import native_output_quiet
from dlrun.runs import artifacts, records
from dlrun.runs.atomic import check_writable, unwritable
from dlrun.runs.provenance import versions
from dlrun.runs.kinds import the_model
from dlrun.runs.lock import hold
from dlrun.runs.rundir import RunDir

FLOAT_TOLERANCE = 1e-5       # float formats: |exported - predict| <= 1e-5 + 1e-5 * |predict| (np.isclose's rule)
QUANTIZED_AGREEMENT = 0.99   # share of rows with predict's class, quantized formats
CALIBRATION_ROWS = 1000      # training rows that calibrate int8 quantization
STREAMED_CHECK_ROWS = 20_000  # rows of a streamed table's part that an export is checked on
RUNTIME_PACKAGES = ("tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


class ExportCheckFailed(RunFailed):
    """An exported file does not reproduce `dlrun predict` (exit 1; the files and report stay for a look)."""


@dataclass
class ExportResult:
    run: RunDir
    folder: Path
    report: dict
    manifest: dict


def parse_formats(text: str, quantize: str) -> list[Format]:
    """`keras,onnx` → the formats, in the order given; unknown names and quantizations are exit 2."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError("--format: name at least one format (keras, savedmodel, litert, onnx)")
    for name in names:
        if name not in FORMATS:
            raise UserError(f"--format: unknown format '{name}'{suggest(name, list(FORMATS))} "
                            f"(formats: {', '.join(FORMATS)})")
    if quantize not in QUANTIZATIONS:
        raise UserError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, not '{quantize}'")
    formats = [FORMATS[name] for name in dict.fromkeys(names)]
    if quantize != "none" and not any(quantize in f.quantizations for f in formats):
        able = [f.name for f in FORMATS.values() if quantize in f.quantizations]
        raise UserError(f"--quantize {quantize} applies to {' and '.join(able)}; add --format {able[0]} "
                        f"(keras and savedmodel are always exported in float)")
    missing = export_formats.missing_runtimes(formats)
    if "tensorflow" in missing:
        raise UserError("dlrun export writes every format on the TensorFlow backend, which is not installed "
                        "here: pip install tensorflow (a run trained on JAX exports the same way)")
    if missing:
        raise UserError(f"exporting {', '.join(f.name for f in formats)} needs {', '.join(missing)}, which "
                        f"{'is' if len(missing) == 1 else 'are'} not installed: pip install \"dlrun[export]\"")
    return formats


def model_run(run: RunDir) -> RunDir:
    """The run folder that holds the model to export: a k-fold run's final model, a sweep's retrained best."""
    return RunDir(the_model(run.path, run.read_info(), "export"))


def export(run: RunDir, formats: list[Format], quantize: str = "none", out: Path | None = None) -> ExportResult:
    """Write each format into `out` (default: the run's export/), check it, and write report and manifest,
    as the run's one writer meanwhile (runs/lock.py)."""
    run = model_run(run)
    with hold(run.path):
        return _export(run, formats, quantize, out)


def _export(run: RunDir, formats: list[Format], quantize: str, out: Path | None) -> ExportResult:
    saved = load_saved_run(run)
    source = saved.inputs()
    no_strings = [f.name for f in formats if not f.strings]
    if source.strings_only and no_strings:
        raise UserError(f"a text run's model takes the raw text, and {', '.join(no_strings)} cannot take strings; "
                        f"export it as keras or savedmodel")
    saved.use_backend("tensorflow")  # every format is written from TensorFlow; a JAX run's model loads on it
    part, features, calibration_rows, notes = _check_rows(saved)
    trained = saved.model("tensorflow")
    reference = predictions(saved, features, "tensorflow", model=trained, where=part)
    sample_shape = source.sample_shape(features)
    source.raw_inputs(sample_shape, False)  # what cannot be exported is refused before anything is written
    outputs = raw_outputs(saved)
    folder = Path(out) if out is not None else artifacts.export_folder(run.path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"-o {folder}: is a file; name a folder to write the export into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_writable(folder / ".dlrun-export-check")
    except OSError as exc:
        raise unwritable(folder, exc) from None
    models, checks, described = {}, {}, {}
    for fmt in formats:
        inputs = source.raw_inputs(sample_shape, fmt.strings)
        if fmt.strings not in models:
            models[fmt.strings] = build_raw_model(saved, trained, inputs, outputs)
        quantization = fmt.quantization(quantize)
        calibration = source.raw_feed(inputs, calibration_rows) if quantization == "int8" else None
        path = artifacts.export_path(folder, fmt.name)
        started = time.perf_counter()
        try:
            with native_output_quiet():
                export_formats.write(fmt, models[fmt.strings], path, quantization, calibration)
                written = time.perf_counter() - started
                got = _predict_in_chunks(export_formats.predictor(fmt, path), source, inputs, features)
        except export_formats.ExportFailed as exc:
            checks[fmt.name] = {"file": path.name, "quantization": quantization, "runtime": fmt.runtime,
                                "outputs": {}, "passed": False, "verdict": str(exc)}
            continue
        checks[fmt.name] = {"file": path.name, "quantization": quantization, "runtime": fmt.runtime,
                            "seconds_to_write": round(written, 2),
                            **compare(outputs, reference, got, quantized=quantization != "none")}
        described[fmt.name] = {"quantization": quantization, "inputs": [i.to_json() for i in inputs],
                               "files": _files(folder, path)}
    report = {"run_id": run.run_id, "exported": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "rows": {"part": part, "n": int(len(features))}, "notes": notes,
              "tolerance": {"float": f"|exported - predict| <= {FLOAT_TOLERANCE:g} + {FLOAT_TOLERANCE:g} * |predict|",
                            "quantized_agreement": QUANTIZED_AGREEMENT},
              "formats": checks, "passed": all(c["passed"] for c in checks.values())}
    manifest = _manifest(saved, outputs, described)
    artifacts.write_export_report(folder, report)
    records.write_manifest(folder, manifest)
    failed = {name: check for name, check in checks.items() if not check["passed"]}
    if failed:
        raise ExportCheckFailed("exported model(s) do not reproduce `dlrun predict` on the run's "
                                f"{part} rows: " + "; ".join(f"{name}: {c['verdict']}" for name, c in failed.items())
                                + f" (details: {artifacts.export_report_path(folder)})")
    return ExportResult(run, folder, report, manifest)


def _predict_in_chunks(run, source, inputs, features, size: int = 256) -> dict[str, np.ndarray]:
    """The exported file's outputs for every check row, fed `size` rows at a time (decoded images are big)."""
    parts: dict[str, list] = {}
    for start in range(0, len(features), size):
        rows = features.iloc[start:start + size] if hasattr(features, "iloc") else features[start:start + size]
        for name, value in run(source.raw_feed(inputs, rows)).items():
            parts.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(values) for name, values in parts.items()}


def _check_rows(saved: SavedRun):
    """The rows the check predicts (the test part, else validation, else train) and int8's calibration rows."""
    dataset, notes = own_dataset(saved)
    splits = saved.splits()
    part = splits.held_out()
    if not len(getattr(splits, part)):
        raise UserError(f"run {saved.run.run_id} has no rows to check an export on")
    if part != "test":
        notes.append(f"the run has no test rows: the export is checked on its {part} rows")

    train = splits.train if len(splits.train) else getattr(splits, part)
    rng = np.random.default_rng(saved.spec.seed)  # a seeded sample: folders list their rows class by class
    calibration = np.sort(rng.choice(train, size=min(CALIBRATION_ROWS, len(train)), replace=False))
    rows = getattr(splits, part)
    if not dataset.data.sampled_for_export:
        return part, dataset.features_at(rows), dataset.features_at(calibration), notes
    if len(rows) > STREAMED_CHECK_ROWS:  # a table too large to hold: a seeded sample of the part, read whole
        rows = np.sort(rng.choice(rows, size=STREAMED_CHECK_ROWS, replace=False))
        notes.append(f"a streamed table: the export is checked on a seeded sample of {STREAMED_CHECK_ROWS:,} of "
                     f"its {len(getattr(splits, part)):,} {part} rows")
    held = [feature_data(dataset.features_at(r)).held() for r in (rows, calibration)]
    return part, held[0], held[1], notes


def compare(outputs: list[RawOutput], reference: dict, got: dict[str, np.ndarray], quantized: bool) -> dict:
    """Each output against predict's: the largest absolute difference, and the share of rows whose
    class (or 0/1 label set) agrees; a pass/fail verdict by the format's rule."""
    figures, verdicts, passed = {}, [], True
    for output in outputs:
        if output.name not in got:
            return {"outputs": figures, "passed": False,
                    "verdict": f"output '{output.name}' is missing (the file has {', '.join(sorted(got))})"}
        expected = np.asarray(reference[output.target][output.kind])
        actual = np.asarray(got[output.name]).reshape(expected.shape)
        if output.kind in ("class", "predicted"):
            same = (actual == expected).all(axis=1) if expected.ndim == 2 else actual == expected
            agreement = float(same.mean()) if len(same) else 1.0
            figures[output.name] = {"agreement": agreement}
            if quantized and agreement < QUANTIZED_AGREEMENT:
                passed = False
                verdicts.append(f"{output.name} agrees on {agreement:.2%} of rows (needs {QUANTIZED_AGREEMENT:.0%})")
            continue
        difference = np.abs(actual.astype(np.float64) - expected)
        largest = float(np.nanmax(difference)) if difference.size else 0.0
        mismatched_nan = bool((np.isnan(actual) != np.isnan(expected)).any())
        # float32 itself cannot hold a large value to 1e-5 (a regression output of 130 is stored in steps of 1.5e-5)
        within = np.isclose(actual.astype(np.float64), expected, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE,
                            equal_nan=True)
        entry = {"max_abs_difference": largest}
        if output.kind == "value":
            scale = float(np.nanmax(np.abs(expected))) if expected.size else 0.0
            entry["relative_error"] = largest / scale if scale > 0 else largest
        figures[output.name] = entry
        if mismatched_nan or (not quantized and not within.all()):
            passed = False
            verdicts.append(f"{output.name} differs by up to {largest:.3g} (allowed {FLOAT_TOLERANCE:g} + "
                            f"{FLOAT_TOLERANCE:g} x |predict|)" + (", and NaN where predict has a number"
                                                                  if mismatched_nan else ""))
    if not verdicts and quantized:
        shares = [f"{name} {f['agreement']:.2%}" for name, f in figures.items() if "agreement" in f]
        verdicts.append("agrees with dlrun predict on " + ", ".join(shares) + " of rows" if shares
                        else "quantized: relative error reported, not checked")
    return {"outputs": figures, "passed": passed, "verdict": "; ".join(verdicts) or "matches dlrun predict"}


def _files(folder: Path, path: Path) -> list[dict]:
    """Each file of an export (every file inside a SavedModel folder): bytes and sha256."""
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [{"path": str(p.relative_to(folder)), "bytes": p.stat().st_size,
             "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in paths]


def _manifest(saved: SavedRun, outputs: list[RawOutput], described: dict) -> dict:
    installed = versions()
    from importlib import metadata

    for name in RUNTIME_PACKAGES:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    pre = saved.preprocessor
    return {
        "source_run": saved.run.run_id, "source_path": str(saved.run.path.resolve()),
        "trained_on_backend": saved.spec.training.backend, "exported_on_backend": "tensorflow",
        "preprocessing": {"impute": pre.impute, "scale": pre.scale, "categorical": sorted(pre.categories),
                          "passthrough": list(pre.passthrough)},
        **({"window": saved.spec.data.window.model_dump(mode="json")} if saved.spec.data.window is not None else {}),
        "formats": described,
        "outputs": [o.to_json() for o in outputs],
        "classes": {o.target: o.labels for o in outputs if o.labels is not None},
        "versions": installed,
    }
