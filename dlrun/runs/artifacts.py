"""The files of a run directory: this module alone names them, writes them and reads them.

    <run>/
      run.json            status and provenance (RunDir.update_info / set_status)
      config.yaml         the resolved spec
      splits.json         which rows went to train / validation / test (or to each fold)
      preprocessing.json  the fitted preprocessing, target encodings, output heads
      history.csv         one row per epoch, rewritten after every epoch
      model.keras         the final model
      metrics.json        the held-out report (also in evaluations/<ts>/)
      summary.json        k-fold: the summary across folds
      report.md           the report for people
    <sweep>/              `dlrun sweep`: run.json, config.yaml, report.md, plots/ as above, and
      study.journal       Optuna's study (the search's own resumable record)
      trials.csv          one row per trial; best.json: the best trial
      trials/NNN/         one ordinary run folder per trial; best/: retrain_best's model
    <run>/export/         `dlrun export`: model.keras, saved_model/, model.tflite, model.onnx (each
                          taking raw columns), report.json (each format checked against predict),
                          manifest.json (inputs, outputs, classes, versions, sizes and sha256)

Every write is atomic (runs/atomic.py). Readers return plain data (dicts, lists) and leave
validation to their callers, so nothing here depends on the spec's models or on TensorFlow.

Example:
    >>> from pathlib import Path
    >>> read_metrics(Path("/nonexistent")) is None
    True
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from dlrun.runs.atomic import write_csv, write_json, write_text, write_yaml
from dlrun.runs.checked import DamagedRunFile, damaged, history_row, inside, read_json_object

RUN_INFO = "run.json"
CONFIG = "config.yaml"
SPLITS = "splits.json"
PREPROCESSING = "preprocessing.json"
HISTORY = "history.csv"
MODEL = "model.keras"
METRICS = "metrics.json"
SUMMARY = "summary.json"
REPORT = "report.md"
ERROR_LOG = "error.log"
RUN_LOCK = "run.lock"    # the writer lock (runs/lock.py)
FOLDS = "folds"
FINAL = "final"
CHECKPOINTS = "checkpoints"
EVALUATIONS = "evaluations"
PLOTS = "plots"
TENSORBOARD = "tensorboard"
TRIALS = "trials"
TRIALS_TABLE = "trials.csv"
BEST = "best.json"
BEST_FOLDER = "best"
STUDY_JOURNAL = "study.journal"
SWEEP_LOCK = "sweep.lock"
EXPORT = "export"
EXPORT_FILES = {"keras": "model.keras", "savedmodel": "saved_model", "litert": "model.tflite", "onnx": "model.onnx"}
EXPORT_REPORT = "report.json"
BEST_CHECKPOINT = "best.keras"             # in checkpoints/: the best epoch's model (callbacks.model_checkpoint)
RESUME_STATE = "resume.json"               # in checkpoints/: the last finished epoch, naming its arrays
RESUME_ARRAYS = "resume-{epoch:04d}.npz"   # ... and those arrays
MANIFEST = "manifest.json"
MODEL_SUMMARY = "model_summary.txt"        # the layers, output shapes and parameters of the run's model
MODEL_GRAPH = "model.png"                  # in plots/: keras.utils.plot_model's picture (with pydot and Graphviz)
ENVIRONMENT = "environment.txt"            # every installed package as name==version: the run's lock file
AUDIT_REPORT = "audit.md"                  # `dlrun audit RUN`
AUDIT_JSON = "audit.json"
COMPARISONS = "comparisons"  # in the runs directory itself, beside the runs: `dlrun compare --plot`
TRACKING_STORE = "mlflow.db"        # in the runs directory too: the MLflow store of tracking.mlflow without a uri
TRACKING_ARTIFACTS = "mlartifacts"  # ... and the files its runs log

# what a finished run must hold before it can be evaluated or predicted with
SAVED_RUN_FILES = (RUN_INFO, CONFIG, PREPROCESSING, SPLITS)


def _json_or(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


# run.json ---------------------------------------------------------------------------------

def read_info(folder: Path) -> dict:
    """run.json as a dict ({} when there is none); a run.json that is not a JSON object is a
    DamagedRunFile, so nothing is decided (or rewritten) from a guess."""
    path = Path(folder) / RUN_INFO
    if not path.exists():
        return {}
    return read_json_object(path)


def peek_info(folder: Path) -> dict:
    """run.json for a listing of many runs, where one damaged record must not hide the others: {} for
    one that is missing, {"status": "damaged", "error": why} for one that is not a JSON object."""
    try:
        return read_info(folder)
    except DamagedRunFile as exc:
        return {"status": "damaged", "error": str(exc)}


def write_info(folder: Path, info: dict) -> None:
    write_json(Path(folder) / RUN_INFO, info)


def lock_path(folder: Path) -> Path:
    return Path(folder) / RUN_LOCK


def is_run(folder: Path) -> bool:
    return (Path(folder) / RUN_INFO).is_file()


# config.yaml ------------------------------------------------------------------------------

def config_path(folder: Path) -> Path:
    return Path(folder) / CONFIG


def write_config(folder: Path, spec_data: dict, command: str) -> None:
    """The resolved spec, headed by the command that repeats the run."""
    folder = Path(folder)
    header = (f"# Resolved spec of run {folder.name}: every default filled in.\n"
              f"# Repeat it with: dlrun {command} {folder / CONFIG}\n")
    write_yaml(folder / CONFIG, spec_data, header)


def read_config(folder: Path) -> dict:
    """The resolved spec as a plain mapping ({} when missing or unreadable)."""
    try:
        data = yaml.safe_load((Path(folder) / CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


# splits.json, preprocessing.json ----------------------------------------------------------

def write_splits(folder: Path, document: dict) -> None:
    write_json(Path(folder) / SPLITS, document)


def read_splits(folder: Path) -> dict:
    return read_json_object(Path(folder) / SPLITS)


def splits_path(folder: Path) -> Path:
    return Path(folder) / SPLITS


def write_preprocessing(folder: Path, document: dict) -> None:
    write_json(Path(folder) / PREPROCESSING, document)


PREPROCESSING_KEYS = ("features", "targets", "outputs", "inputs", "baselines")


def read_preprocessing(folder: Path) -> dict:
    return read_json_object(preprocessing_path(folder), PREPROCESSING_KEYS)


def preprocessing_path(folder: Path) -> Path:
    return Path(folder) / PREPROCESSING


def missing_promised(folder: Path, with_model: bool) -> list[str]:
    """Which files a finished train run promises are absent (its model only when it saves one)."""
    promised = (*SAVED_RUN_FILES, HISTORY, METRICS, *((MODEL,) if with_model else ()))
    return [name for name in promised if not (Path(folder) / name).is_file()]


def missing_saved_files(folder: Path) -> list[str]:
    """Which of the files a finished run needs for evaluate / predict are absent."""
    return [name for name in SAVED_RUN_FILES if not (Path(folder) / name).is_file()]


# history.csv ------------------------------------------------------------------------------

def history_path(folder: Path) -> Path:
    return Path(folder) / HISTORY


def write_history(folder: Path, rows: list[dict], columns: list[str]) -> None:
    write_csv(Path(folder) / HISTORY, rows, columns)


def read_history_table(folder: Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of history.csv; epochs as int, every other value as float."""
    path = Path(folder) / HISTORY
    if not path.is_file():
        return [], []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [history_row(row, reader.line_num) for row in reader]
            columns = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise damaged(path, str(exc).splitlines()[0][:160]) from None
    if rows and "epoch" not in columns:
        raise damaged(path, "has no epoch column")
    if [row.get("epoch") for row in rows] != list(range(1, len(rows) + 1)):
        raise damaged(path, "its epochs are not 1, 2, 3, ... in order")
    return columns, rows


def read_history(folder: Path) -> list[dict]:
    return read_history_table(folder)[1]


# model.keras ------------------------------------------------------------------------------

def model_path(folder: Path) -> Path:
    return Path(folder) / MODEL


def has_model(folder: Path) -> bool:
    return model_path(folder).is_file()


# metrics.json, summary.json, report.md ----------------------------------------------------

def write_metrics(folder: Path, document: dict) -> None:
    write_json(Path(folder) / METRICS, document)


def read_metrics(folder: Path) -> dict | None:
    return _json_or(Path(folder) / METRICS, None)


def write_summary(folder: Path, document: dict) -> None:
    write_json(Path(folder) / SUMMARY, document)


def read_summary(folder: Path) -> dict | None:
    return _json_or(Path(folder) / SUMMARY, None)


def write_report(folder: Path, text: str) -> None:
    write_text(Path(folder) / REPORT, text)


def report_path(folder: Path) -> Path:
    return Path(folder) / REPORT


def error_log_path(folder: Path) -> Path:
    return Path(folder) / ERROR_LOG


# sub-folders ------------------------------------------------------------------------------

def fold_folder(folder: Path, fold_name: str) -> Path:
    return inside(folder, FOLDS, fold_name)


def fold_folders(folder: Path) -> list[Path]:
    """The numbered fold folders of a k-fold run, in order."""
    return sorted(p for p in (Path(folder) / FOLDS).glob("[0-9][0-9]*") if p.is_dir())


def final_folder(folder: Path) -> Path:
    return inside(folder, FINAL)


def best_checkpoint_path(folder: Path) -> Path:
    return checkpoints_folder(folder) / BEST_CHECKPOINT


def resume_state_path(checkpoints: Path) -> Path:
    return Path(checkpoints) / RESUME_STATE


def resume_arrays_name(epoch: int) -> str:
    return RESUME_ARRAYS.format(epoch=epoch)


def old_resume_arrays(checkpoints: Path, keep: str) -> list[Path]:
    """Resume arrays of earlier epochs (all but `keep`), to delete once a newer state is written."""
    pattern = RESUME_ARRAYS.replace("{epoch:04d}", "*")
    return [p for p in Path(checkpoints).glob(pattern) if p.name != keep]


def checkpoints_folder(folder: Path) -> Path:
    return inside(folder, CHECKPOINTS)


def tensorboard_folder(folder: Path) -> Path:
    return inside(folder, TENSORBOARD)


def plots_folder(folder: Path) -> Path:
    return inside(folder, PLOTS)


def evaluations_folder(folder: Path) -> Path:
    return inside(folder, EVALUATIONS)


def comparison_plot_path(runs_dir: Path, stamp: str, metric: str) -> Path:
    """`<runs_dir>/comparisons/<stamp>-<metric>.png`, where `dlrun compare --plot` writes by default."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in metric)
    return Path(runs_dir) / COMPARISONS / f"{stamp}-{safe}.png"


# sweeps -------------------------------------------------------------------------------------

def trial_folder(folder: Path, number: int) -> Path:
    """`<sweep>/trials/NNN`: the run folder of the sweep's trial number `number`."""
    return inside(folder, TRIALS, f"{number:03d}")


def trial_folders(folder: Path) -> list[Path]:
    return sorted(p for p in (Path(folder) / TRIALS).glob("[0-9][0-9][0-9]*") if p.is_dir())


def best_folder(folder: Path) -> Path:
    return inside(folder, BEST_FOLDER)


def study_journal_path(folder: Path) -> Path:
    return Path(folder) / STUDY_JOURNAL


def sweep_lock_path(folder: Path) -> Path:
    return Path(folder) / SWEEP_LOCK


def write_trials_table(folder: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["number"]
    write_csv(Path(folder) / TRIALS_TABLE, rows, columns)


def read_trials_table(folder: Path) -> list[dict]:
    try:
        with open(Path(folder) / TRIALS_TABLE, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


def write_best(folder: Path, document: dict) -> None:
    write_json(Path(folder) / BEST, document)


def read_best(folder: Path) -> dict | None:
    return _json_or(Path(folder) / BEST, None)


def drop_model_files(folder: Path) -> int:
    """Delete a run folder's model files (final model and checkpoints); returns the bytes freed."""
    import shutil

    freed = 0
    model = model_path(folder)
    if model.exists():
        freed += model.stat().st_size
        model.unlink()
    checkpoints = checkpoints_folder(folder)
    if checkpoints.is_dir():
        freed += sum(f.stat().st_size for f in checkpoints.rglob("*") if f.is_file())
        shutil.rmtree(checkpoints)
    return freed


# export/ ----------------------------------------------------------------------------------

def export_folder(folder: Path) -> Path:
    return inside(folder, EXPORT)


def export_path(folder: Path, format_name: str) -> Path:
    """The file (or, for a SavedModel, the folder) of one export format inside an export folder."""
    return inside(folder, EXPORT_FILES[format_name])


def export_report_path(folder: Path) -> Path:
    return Path(folder) / EXPORT_REPORT


def write_export_report(folder: Path, document: dict) -> None:
    write_json(export_report_path(folder), document)


def read_export_report(folder: Path) -> dict | None:
    return _json_or(Path(folder) / EXPORT_REPORT, None)
