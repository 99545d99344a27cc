"""The cross-validation report (report.md of a k-fold run) and its averaged-curve plots."""

from __future__ import annotations

from pathlib import Path

from dlrun.runs.artifacts import plots_folder, write_report


def write_cv_report(folder: Path, summary: dict, curves: list[dict], plots_on: bool) -> None:
    """The k-fold run's report: every fold's metrics, mean, std and 95% CI, the final model, averaged curves."""
    from dlrun.report.plots import learning_curves

    final_epochs = (summary.get("final_model") or {}).get("epochs")
    images = learning_curves([{k: v for k, v in row.items() if k != "folds"} for row in curves],
                             plots_folder(folder), prefix="average_", spread=True,
                             marker_epoch=final_epochs) if plots_on and curves else []
    lines = [f"# Cross-validation of run `{summary['run_id']}`", "",
             f"Protocol {summary['protocol']}, {summary['n_folds']} fold(s)"
             + (f" ({summary['repeats']} repeats)" if summary.get("repeats", 1) > 1 else "") + ".", ""]
    keys = list(summary["stats"])
    lines += ["| fold | " + " | ".join(keys) + " |", "| --- " * (len(keys) + 1) + "|"]
    for row in summary["folds"]:
        lines.append(f"| {row['fold']} | " + " | ".join(_fmt(row.get(k)) for k in keys) + " |")
    for label, field in (("mean", "mean"), ("std", "std")):
        lines.append(f"| **{label}** | " + " | ".join(_fmt(summary["stats"][k][field]) for k in keys) + " |")
    lines.append("| **95% CI** | " + " | ".join(
        "—" if not summary["stats"][k]["ci95"] else f"{_fmt(summary['stats'][k]['ci95'][0])} – "
                                                    f"{_fmt(summary['stats'][k]['ci95'][1])}" for k in keys) + " |")
    final = summary.get("final_model")
    if final:
        lines += ["", f"## Final model", "", f"Retrained on all cross-validated rows for {final['epochs']} epochs, "
                                               f"scored once on {final['test_rows']} held-out test rows:", ""]
        test = final["test"]
        outputs = test if all(isinstance(v, dict) and "task" in v for v in test.values()) else {"": test}
        for name, result in outputs.items():
            shown = ", ".join(f"{k} {_fmt(result[k])}" for k in ("accuracy", "balanced_accuracy", "mae", "rmse", "r2")
                              if k in result)
            lines.append(f"- {name + ': ' if name else ''}{shown}")
    if images:
        lines += ["", "## Curves averaged across folds", ""] + [f"![{p.stem}](plots/{p.name})" for p in images]
    write_report(folder, "\n".join(lines) + "\n")


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
