"""One evaluation, written the same way by `dlrun train` (run root) and `dlrun evaluate`
(evaluations/<timestamp>/): the metrics document for machines, the report and plots for people.

Takes predictions, not a model, so it never imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.data.image_files import ImageFiles
from dlrun.report import plots
from dlrun.report.forecast import forecast_section
from dlrun.report.linear_model import linear_lines
from dlrun.report.metrics import baseline_verdict, probabilities, score
from dlrun.report.multilabel_metrics import multilabel_lines
from dlrun.runs.artifacts import plots_folder, write_metrics, write_report


def score_outputs(raw_outputs: list[np.ndarray], heads: list, targets: dict, truths: dict[str, np.ndarray],
                  baselines: dict[str, dict]) -> dict[str, dict]:
    """Metrics per model output (`heads`: OutputHead per output). `truths` are encoded target values by target name."""
    out = {}
    for head, raw in zip(heads, raw_outputs):
        encoder = targets[head.target]
        labels = [encoder.label(i) for i in range(encoder.n_classes)]
        result = score(encoder.task, truths[encoder.name], raw, labels, baselines[encoder.name])
        result["task"], result["target"] = encoder.task, encoder.name
        warning = baseline_verdict(result)
        if warning:
            result["warning"] = warning
        out[head.name] = result
    return out


def write_evaluation(folder: Path, summary: dict, part: str, per_output: dict[str, dict],
                     raw_outputs: list[np.ndarray], heads: list, targets: dict,
                     truths: dict[str, np.ndarray], history: list[dict] | None = None, plots_on: bool = True,
                     files: ImageFiles | None = None) -> dict:
    """Write the metrics document, the report and the plots into `folder`; return the metrics document.

    `summary` holds the run-level facts (run id, fit diagnosis, audit, ...) kept beside the metrics;
    `files`, the evaluated rows' image files (image runs), for a grid of the worst-misclassified ones.
    """
    folder = Path(folder)
    single = len(per_output) == 1
    document = {**summary, "part": part, part: next(iter(per_output.values())) if single else per_output}
    write_metrics(folder, document)
    images = []
    if not plots_on:
        write_report(folder, render_markdown(document, part, per_output, images, folder))
        return document
    if history:
        images += plots.learning_curves(history, plots_folder(folder))
    for head, raw in zip(heads, raw_outputs):
        encoder = targets[head.target]
        result = per_output[head.name]
        if not result.get("n"):
            continue
        suffix = "" if single else f"_{head.name}"
        truth = truths[encoder.name]
        if encoder.task == "regression":
            sub = plots_folder(folder) / head.name if not single else plots_folder(folder)
            images += plots.regression_plots(np.asarray(truth, float).reshape(-1), np.asarray(raw, float).reshape(-1), sub)
        elif "confusion_matrix" in result:  # a multilabel output has per-label counts instead
            images.append(plots.confusion_matrix_plot(result["confusion_matrix"], result["labels"],
                                                      plots_folder(folder) / f"confusion_matrix{suffix}.png"))
            if files is not None:
                images += worst_misclassified(files, np.asarray(truth), probabilities(raw, encoder.task),
                                              result["labels"], plots_folder(folder) / f"misclassified{suffix}.png")
            if encoder.task == "binary" and len(np.unique(truth)) == 2:
                sub = plots_folder(folder) / head.name if not single else plots_folder(folder)
                images += plots.binary_curves(np.asarray(truth), probabilities(raw, "binary")[:, 1], sub)
    write_report(folder, render_markdown(document, part, per_output, images, folder))
    return document


def worst_misclassified(files: ImageFiles, truth: np.ndarray, proba: np.ndarray, labels: list[str], path: Path,
                        count: int = 16) -> list[Path]:
    """The misclassified images the model was surest about, as one PNG (none when all are right)."""
    from dlrun.data.image_stream import decoded

    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != truth)
    if not len(wrong):
        return []
    worst = wrong[np.argsort(-proba[wrong, predicted[wrong]], kind="stable")][:count]
    titles = [f"{labels[truth[i]]} → {labels[predicted[i]]} ({proba[i, predicted[i]]:.2f})\n"
              f"{Path(files.paths[i]).name}" for i in worst]
    return [plots.image_grid(decoded(files[worst]), titles, path)]


def _fmt(value) -> str:
    if isinstance(value, float):
        return "—" if not np.isfinite(value) else f"{value:.4f}"
    return str(value)


def render_markdown(document: dict, part: str, per_output: dict[str, dict], images: list[Path], folder: Path) -> str:
    lines = [f"# Evaluation of run `{document.get('run_id', '?')}` on {part}", ""]
    for name, result in per_output.items():
        title = f"## Output `{name}` — target `{result['target']}` ({result['task']}, {result['n']} rows)"
        lines += [title, "", "| metric | value |", "| --- | --- |"]
        if result["task"] == "multilabel":
            lines += multilabel_lines(result, _fmt)
            continue
        keys = ("mae", "mse", "rmse", "r2") if result["task"] == "regression" else \
            ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc",
             "roc_auc_ovr", "log_loss")
        lines += [f"| {k} | {_fmt(result[k])} |" for k in keys if k in result]
        base = result["baseline"]
        base_key = "mae" if result["task"] == "regression" else "accuracy"
        lines += ["", f"Baseline — {base['kind']}: {base_key} {_fmt(base[base_key])}; "
                      f"the model's margin over it: {_fmt(result['margin_over_baseline'])}.", ""]
        if result.get("warning"):
            lines += [f"**Warning:** {result['warning']}.", ""]
        lines += linear_lines(result, _fmt)
        if result.get("forecast"):
            lines += forecast_section(result["forecast"], _fmt)
        if "per_class" in result:
            lines += ["| class | precision | recall | f1 | support |", "| --- | --- | --- | --- | --- |"]
            lines += [f"| {c} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | {_fmt(v['f1'])} | {v['support']} |"
                      for c, v in result["per_class"].items()]
            lines += ["", "Confusion matrix (rows: true, columns: predicted):", "",
                      "| | " + " | ".join(result["labels"]) + " |", "| --- " * (len(result["labels"]) + 1) + "|"]
            lines += [f"| **{label}** | " + " | ".join(str(c) for c in row) + " |"
                      for label, row in zip(result["labels"], result["confusion_matrix"])]
            lines.append("")
    fit = document.get("fit")
    if fit:
        lines += ["## Fit", "", f"Verdict: **{fit['verdict']}** — {fit['epochs_run']} epochs, best epoch {fit['best_epoch']}."]
        if "gap_at_best" in fit:
            gap = fit["gap_at_best"]
            lines.append(f"At the best epoch: training loss {_fmt(gap['loss'])}, validation loss {_fmt(gap['val_loss'])}.")
        lines += [f"- {flag}" for flag in fit["flags"]] + [""]
    lines += model_lines(document.get("model"))
    lines += phase_lines(document.get("phases"))
    lines += remedy_lines(document.get("imbalance_remedy"))
    audit = document.get("audit")
    if audit:
        lines += ["## Data audit", ""]
        lines += [f"- {flag}" for flag in audit["flags"]] or ["- no leakage through duplicate rows, no missing values found"]
        if audit.get("class_balance"):
            lines += ["", "Class balance per split:", ""]
            labels = list(next(iter(audit["class_balance"].values())))
            lines += ["| split | " + " | ".join(labels) + " |", "| --- " * (len(labels) + 1) + "|"]
            lines += [f"| {p} | " + " | ".join(str(c) for c in counts.values()) + " |"
                      for p, counts in audit["class_balance"].items()]
        lines.append("")
    if images:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(folder).as_posix()})" for p in images] + [""]
    return "\n".join(lines)


def remedy_lines(remedy: dict | None) -> list[str]:
    """The class-imbalance remedy the fit used (data.resample, training.class_weight), in words."""
    if not remedy:
        return []
    done = []
    if remedy.get("resample", "none") != "none":
        done.append(f"data.resample: {remedy['resample']} — the fit saw {remedy['fit_rows']} rows for "
                    f"{remedy['train_rows']} real training rows (validation and test rows untouched)")
    if remedy.get("class_weight"):
        weights = ", ".join(f"{label}: {_fmt(w)}" for label, w in remedy["class_weight"].items())
        done.append(f"training.class_weight — each class's rows weigh in the loss as {weights}")
    return ["## Class imbalance remedy", "", *(f"- {d}" for d in done), ""] if done else []


def phase_lines(phases: list[dict] | None) -> list[str]:
    """The report's table of training phases (training.fine_tune): epochs, learning rate, what was
    unfrozen and how many parameters trained."""
    if not phases:
        return []
    lines = ["## Training phases", "", "| phase | epochs | learning rate | unfrozen | trainable parameters |",
             "| --- | --- | --- | --- | --- |"]
    for phase in phases:
        first, last = phase["epochs"]
        rate = "as the optimizer" if phase["learning_rate"] is None else f"{phase['learning_rate']:g}"
        what = phase["unfreeze"]
        unfrozen = "as the spec freezes" if what is None else (what if isinstance(what, str) else
                                                                ", ".join(f"{k} {v}" for k, v in what.items()))
        lines.append(f"| {phase['phase']} | {first}–{last} | {rate} | {unfrozen} | "
                     f"{phase['trainable_parameters']:,} |")
    return lines + [""]


def model_lines(model: dict | None) -> list[str]:
    """The report's Model section: the layer table (model_summary.txt) and the graph's picture, or how to get one."""
    if not model:
        return []
    lines = ["## Model", "", model["summary"].rstrip("\n"), ""]
    if model.get("graph"):
        lines += [f"![model graph](plots/{model['graph']})", ""]
    elif model.get("graph_note"):
        lines += [f"- {model['graph_note']}", ""]
    return lines
