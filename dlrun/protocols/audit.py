"""`dlrun audit RUN`: the nine-item audit (report/audit.py) written into the run as audit.md and
audit.json, and with `--reproduce` the run's saved spec trained again in a temporary folder and its
history compared with the run's, epoch by epoch.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from dlrun.errors import UserError
from dlrun.report.audit import Audit, fits_of
from dlrun.report.audit_items import audit_items
from dlrun.runs import artifacts, records
from dlrun.runs.rundir import RunDir

REPRODUCIBLE_KINDS = ("train", "kfold")


def audit(run: RunDir, reproduce: bool = False) -> Audit:
    """Audit a finished run (and retrain it with `reproduce`); writes audit.md and audit.json into it."""
    from dlrun.report.audit_view import audit_markdown

    info = run.read_info()
    if info.get("status") != "completed":
        raise UserError(f"{run.run_id} is {info.get('status', 'not finished')}: only a completed run can be audited")
    reproduced = reproduce_run(run, info) if reproduce else None
    result = audit_run(run, reproduced)
    records.write_audit(run.path, result.to_json(), audit_markdown(result))
    from dlrun.train.tracking import log_later

    log_later(run.path, records.audit_paths(run.path), {"dlrun.audit": result.worst})
    return result


def reproduce_run(run: RunDir, info: dict) -> dict:
    """Train the run's saved spec again, on its own backend, in a temporary runs folder; compare histories."""
    from dlrun.protocols.admission import spec_to_resume

    kind = info.get("kind", "train")
    if kind not in REPRODUCIBLE_KINDS:
        raise UserError(f"--reproduce retrains train and k-fold runs; for a sweep, audit its best trial: "
                        f"dlrun audit {run.run_id}:best --reproduce")
    with tempfile.TemporaryDirectory(prefix="dlrun-reproduce-") as folder:
        loaded = spec_to_resume(run, None, [f"output.runs_dir={Path(folder) / 'runs'}", "output.plots=false"])
        if kind == "kfold":
            from dlrun.protocols.kfold import kfold

            again = kfold(loaded, smoke=bool(info.get("smoke"))).run.path
            pairs = [(mine, Path(again) / mine.relative_to(run.path)) for mine in artifacts.fold_folders(run.path)]
        else:
            from dlrun.protocols.holdout import train

            again = train(loaded, smoke=bool(info.get("smoke"))).run.path
            pairs = [(run.path, Path(again))]
        return compare_histories(pairs)


def compare_histories(pairs: list[tuple[Path, Path]]) -> dict:
    """Whether each pair of folders has the same history, value for value; else the largest difference."""
    largest, where, epochs = 0.0, None, 0
    for mine, theirs in pairs:
        first, second = artifacts.read_history(mine), artifacts.read_history(theirs)
        epochs += len(first)
        if len(first) != len(second):
            return {"identical": False, "epochs": epochs, "largest_difference": None,
                    "summary": f"--reproduce: {mine.name} ran {len(first)} epoch(s), the retraining {len(second)}"}
        for a, b in zip(first, second):
            for key, value in a.items():
                other = b.get(key)
                if isinstance(value, float) and isinstance(other, float):
                    gap = abs(value - other) if math.isfinite(value) and math.isfinite(other) else \
                        (0.0 if str(value) == str(other) else math.inf)
                    if gap > largest:
                        largest, where = gap, f"{key} at epoch {a.get('epoch')}"
                elif value != other:
                    largest, where = math.inf, f"{key} at epoch {a.get('epoch')}"
    identical = largest == 0.0
    summary = (f"--reproduce: retrained from the saved spec, the history is identical ({epochs} epoch(s))"
               if identical else f"--reproduce: the retrained history differs, by up to {largest:.3g} ({where})")
    return {"identical": identical, "epochs": epochs, "largest_difference": largest if math.isfinite(largest) else None,
            "summary": summary}


def audit_run(run: RunDir, reproduced: dict | None = None) -> Audit:
    """The nine items for a train, k-fold or sweep run (or a fold or trial folder, audited as a train run)."""
    info = run.read_info()
    fits = fits_of(run, info)
    kind = info.get("kind", "train")
    items = audit_items(run, info, fits, reproduced)
    return Audit(run.run_id, kind, items, reproduced)
