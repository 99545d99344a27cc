"""The nine items of `dlrun audit` (report/audit.py): each reads the files of the fitted folders and
returns an Item with its status, evidence and fix."""

from __future__ import annotations

import math
from pathlib import Path

from dlrun.report.audit import FAIL, PASS, WARN, Fit, Item
from dlrun.runs import artifacts, records
from dlrun.runs.rundir import RunDir

PARAMS_PER_ROW = 100      # trainable parameters per training row above which the model is large for its data
Z95 = 1.96
LOSSES = {"binary": ("binary_crossentropy", "binary_focal_crossentropy", "sparse_categorical_crossentropy",
                     "categorical_crossentropy", "hinge", "squared_hinge"),
          "multiclass": ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
                         "sparse_categorical_focal_crossentropy", "kl_divergence"),
          "multilabel": ("binary_crossentropy", "binary_focal_crossentropy"),
          "regression": ("mse", "mae", "huber", "huber_loss", "log_cosh", "logcosh", "mean_squared_error",
                         "mean_absolute_error", "msle", "mean_squared_logarithmic_error", "mape")}
ACTIVATIONS = {"binary": ("sigmoid", "softmax"), "multiclass": ("softmax",), "multilabel": ("sigmoid",),
               "regression": (None, "linear", "relu", "softplus", "sigmoid", "exponential")}


def audit_items(run: RunDir, info: dict, fits: list[Fit], reproduced: dict | None) -> list[Item]:
    """The nine items, in the checklist's order."""
    return [data_integrity(fits), preprocessing(fits), data_split(fits), architecture(fits),
            tuning(run, info, fits), performance(run, info, fits), training(fits), monitoring(fits),
            reproducibility(run.path, info, reproduced)]


# ---- the items --------------------------------------------------------------------------------------

def _count(counts: dict | None) -> int:
    return int(sum((counts or {}).values()))


def data_integrity(fits: list[Fit]) -> Item:
    fit = fits[0]
    audit, data = fit.audit, fit.config.get("data", {})
    missing = {part: _count(columns) for part, columns in (audit.get("missing_values") or {}).items()}
    evidence = [f"{sum(missing.values())} missing feature value(s) ("
                + ", ".join(f"{part} {n}" for part, n in missing.items())
                + f"); filled by data.impute: {data.get('impute')} from the training rows"]
    found, fixes = [], []
    conflicting = audit.get("conflicting_labels")
    if conflicting:
        found.append(f"{conflicting.get('rows')} row(s) share their features with rows of another label "
                     f"(best possible accuracy {conflicting.get('best_accuracy', float('nan')):.3f})")
        fixes.append("check the labels of rows with identical features")
    else:
        evidence.append("no conflicting labels (identical features, different targets)")
    empty = audit.get("empty_in_train")
    if empty:
        found.append(f"column(s) with no value in the training rows: {', '.join(map(str, empty))}")
        fixes.append("drop the empty columns from data.features")
    imbalance = [f for f in audit.get("flags", []) if f.startswith("class imbalance")]
    remedy = fit.metrics.get("imbalance_remedy") or {}
    if imbalance and not any(remedy.values()):
        found.append(imbalance[0].split(" — ")[0])
        fixes.append("training.class_weight: balanced or data.resample: oversample")
    elif "class_balance" in audit and audit["class_balance"].get("train"):
        evidence.append("training classes: " + ", ".join(f"{k} {v}" for k, v in audit["class_balance"]["train"].items()))
    return Item("data_integrity", WARN if found else PASS, evidence + found, "; ".join(fixes) or None)


def preprocessing(fits: list[Fit]) -> Item:
    missing = [str(f.path) for f in fits if f.preprocessing is None]
    if missing:
        return Item("preprocessing", FAIL, [f"no {artifacts.PREPROCESSING} in {', '.join(missing)}"],
                    "train the run again: its fitted preprocessing is lost")
    fit = fits[0]
    data, splits = fit.config.get("data", {}), fit.splits
    train_rows = len(splits.get("train") or [])
    fitted = (splits.get("resample") or {}).get("fit_rows", train_rows)
    parent = fit.info.get("parent") or {}
    where = (f"reused from the parent run {parent.get('run')} (fitted on its training rows)"
             if parent.get("preprocessing") == "reuse" else f"fitted on the {train_rows} training rows only")
    evidence = [f"scale: {data.get('scale')}, impute: {data.get('impute')}, one-hot: "
                f"{', '.join(data.get('categorical') or []) or 'no columns'} — {where}"]
    scales = list((fit.preprocessing.get("target_scales") or {}))
    if scales:
        evidence.append(f"regression target(s) scaled for the fit: {', '.join(scales)} (undone inside the model)")
    if fitted != train_rows:
        evidence.append(f"the fit saw {fitted} rows after data.resample: {(splits.get('resample') or {}).get('method')} "
                        f"(the statistics come from the real training rows)")
    if len(fits) > 1:
        evidence.append(f"fitted anew in each of the {len(fits)} folds, on that fold's training rows")
    return Item("preprocessing", PASS, evidence)


def data_split(fits: list[Fit]) -> Item:
    fit = fits[0]
    split = fit.config.get("split", {})
    sizes = fit.metrics.get("split") or {}
    total = sum(sizes.values()) or 1
    evidence = [f"{split.get('protocol', 'holdout')}: " + ", ".join(f"{part} {n} ({n / total:.0%})"
                                                                    for part, n in sizes.items())
                + f"; stratified: {bool(split.get('stratify', True))}"]
    shared = exact = 0
    for f in fits:
        shared += _count(f.audit.get("duplicates_shared_with_train"))
        exact += _count(f.audit.get("exact_duplicates_shared_with_train"))
    expected = bool((fit.audit.get("feature_space") or {}).get("repeats_expected"))
    evidence.append(f"{shared} held-out row(s) have the features of a training row, {exact} of them with the same "
                    f"target too (row hashes{', over every fold' if len(fits) > 1 else ''})")
    ranges = fit.splits.get("time_ranges")
    order_ok = True
    if ranges:
        ends = [(part, r) for part, r in ranges.items() if r]
        evidence.append("time order: " + ", ".join(f"{part} {r[0]}…{r[1]}" for part, r in ends))
        order_ok = all(str(a[1][1]) < str(b[1][0]) for a, b in zip(ends, ends[1:]))
    if not order_ok:
        return Item("data_split", FAIL, evidence + ["a later part starts before an earlier one ends"],
                    "split in time order (data.window with protocol holdout or time_series)")
    if exact and not expected:
        return Item("data_split", FAIL, evidence + ["exact copies of training rows are scored as held-out rows: "
                                                   "the score is inflated by leakage"],
                    "drop duplicate rows before splitting, or split by group (split.protocol: group_kfold)")
    if shared:
        why = "the feature space is small, so repeats are expected" if expected else \
            "they share features but not targets"
        return Item("data_split", WARN, evidence + [why], "drop repeated rows if they are copies of one case")
    return Item("data_split", PASS, evidence)


def output_activation(config: dict, output: str) -> str | None:
    """The activation of an output as the resolved spec writes it: the last Sequential layer that names
    one (or an Activation layer), or the output node's layer; "?" where none is written."""
    model = config.get("model") or {}
    if "layers" in model:
        entries = [next(iter(item.items())) for item in model["layers"] if isinstance(item, dict) and item]
    else:
        entries = [(k, v) for node in model.get("nodes", []) if node.get("name") == output
                   for k, v in node.items() if k not in ("name", "inputs", "shared")]
    for name, args in reversed(entries):
        args = args or {}
        if name == "Activation":
            return args.get("activation")
        if "activation" in args:
            return args["activation"]
        if name not in ("Dropout", "Flatten", "Reshape", "GaussianNoise"):
            return None if name == "Dense" else "?"
    return "?"


def _head_ok(activation: str | None, loss: str | None, task: str) -> str | None:
    if task not in LOSSES or activation == "?":
        return None
    if loss is not None and loss not in LOSSES[task]:
        return f"loss {loss} for a {task} target"
    if activation not in ACTIVATIONS[task]:
        return f"activation {activation} for a {task} target"
    return None


def architecture(fits: list[Fit]) -> Item:
    fit = fits[0]
    model = fit.metrics.get("model") or {}
    train_rows = max(1, (fit.metrics.get("split") or {}).get("train", 0))
    evidence, problems = [], []
    if model:
        ratio = model["trainable"] / train_rows
        evidence.append(f"{model['layers']} layers, {model['total']:,} parameters ({model['trainable']:,} "
                        f"trainable): {ratio:.1f} trainable per training row")
    else:
        ratio = 0.0
        evidence.append("no parameter count recorded (trained before dlrun kept a model summary)")
    tasks = fit.metrics.get("task") or {}
    for head in (fit.preprocessing or {}).get("outputs", []):
        task = tasks.get(head.get("target"), "")
        activation = output_activation(fit.config, head.get("name"))
        problem = _head_ok(activation, head.get("loss"), task)
        evidence.append(f"output {head.get('name')}: {activation or 'linear'} activation, {head.get('loss')} loss, "
                        f"for a {task} target")
        if problem:
            problems.append(problem)
    if problems:
        return Item("architecture", FAIL, evidence + problems, "use the task's default head (leave loss and the "
                                                                "output activation to dlrun)")
    if ratio > PARAMS_PER_ROW:
        return Item("architecture", WARN, evidence + [f"more than {PARAMS_PER_ROW} trainable parameters per training "
                                                      f"row: prone to overfit"],
                    "a smaller model, more data, freezing (trainable: false) or regularisation (Dropout, kernel_regularizer)")
    return Item("architecture", PASS if model else WARN, evidence,
                None if model else "train it again to record the model summary")


def tuning(run: RunDir, info: dict, fits: list[Fit]) -> Item:
    config = fits[0].config
    monitors = [m for m in _monitors(config)]
    chosen_on = ", ".join(sorted(set(monitors))) or "the last epoch (no early stopping or checkpoint)"
    evidence = [f"the best epoch is chosen by {chosen_on}"]
    if any(m.startswith("test") for m in monitors):
        return Item("tuning", FAIL, evidence + ["a choice is made on the test rows"],
                    "monitor val_* quantities; the test rows are scored once, at the end")
    if info.get("kind") == "sweep":
        trials = artifacts.read_trials_table(run.path)
        objective = ((config.get("sweep") or {}).get("objective") or {}).get("metric", "?")
        parts = {artifacts.read_metrics(p).get("part") for p in artifacts.trial_folders(run.path)
                 if artifacts.read_metrics(p) is not None}
        evidence.append(f"chosen by the sweep: {len(trials)} trial(s) on {objective}, each scored on the "
                        f"{', '.join(sorted(p for p in parts if p)) or '?'} part")
        if "test" in parts or objective.startswith("test"):
            return Item("tuning", FAIL, evidence + ["the test rows took part in choosing a trial"],
                        "set sweep.objective on a val_* metric")
        return Item("tuning", PASS, evidence + ["the test rows took part in no choice"])
    evidence.append("the settings are the spec's as written: no sweep chose them")
    return Item("tuning", WARN, evidence, "dlrun sweep with a sweep: section over e.g. optimizer.learning_rate "
                                          "and the layer sizes")


def _monitors(config: dict) -> list[str]:
    callbacks = config.get("callbacks") or {}
    return [section["monitor"] for name in ("early_stopping", "model_checkpoint")
            if isinstance(section := callbacks.get(name), dict) and section.get("monitor")]


def _margin_interval(result: dict) -> tuple[str, float, float | None, float | None]:
    """(metric, margin over the baseline, interval low, high) of a held-out result; the interval of an
    accuracy is the normal approximation over its rows."""
    margin = result.get("margin_over_baseline")
    if "accuracy" in result and margin is not None:
        p, n = result["accuracy"], max(1, int(result.get("n") or 1))
        half = Z95 * math.sqrt(max(p * (1 - p), 1e-12) / n)
        return "accuracy", margin, margin - half, margin + half
    return ("mae" if "mae" in result else "score"), (margin if margin is not None else float("nan")), None, None


def performance(run: RunDir, info: dict, fits: list[Fit]) -> Item:
    if info.get("kind") == "kfold":
        return _kfold_performance(run, fits)
    fit = fits[0]
    result = fit.held_out
    metric, margin, low, high = _margin_interval(result)
    interval = f" (95% interval {low:+.4f} to {high:+.4f})" if low is not None else ""
    evidence = [f"{fit.part} {metric}: {result.get(metric, float('nan')):.4f} on {result.get('n')} rows; margin over "
                f"the baseline ({(result.get('baseline') or {}).get('kind', '?')}): {margin:+.4f}{interval}"]
    verdict = (fit.metrics.get("fit") or {}).get("verdict")
    gap = (fit.metrics.get("fit") or {}).get("gap_at_best") or {}
    if gap:
        evidence.append(f"at the best epoch: training loss {gap.get('loss', float('nan')):.4f}, validation loss "
                        f"{gap.get('val_loss', float('nan')):.4f}; fit verdict: {verdict}")
    linear = result.get("linear_model") or {}
    if margin is None or not math.isfinite(margin) or margin <= 0:
        return Item("performance", FAIL, evidence + ["the model does not beat the trivial baseline"],
                    "look at the fit verdict, the data audit and the learning rate")
    warnings = []
    if low is not None and low <= 0:
        warnings.append("the margin's interval includes 0: the test part is too small to tell")
    if verdict in ("overfitting", "overfitting risk"):
        warnings.append(f"fit verdict: {verdict}")
    if linear and metric in linear and _better(metric, linear[metric], result.get(metric)):
        warnings.append(f"a linear model does better on the same rows ({metric} {linear[metric]:.4f})")
    if warnings:
        return Item("performance", WARN, evidence + warnings,
                    "more data or k-fold (dlrun kfold) for a tighter estimate; regularise or simplify the model")
    return Item("performance", PASS, evidence)


def _better(metric: str, candidate, ours) -> bool:
    if candidate is None or ours is None:
        return False
    return candidate < ours if metric in ("mae", "rmse", "mse", "log_loss") else candidate > ours


def _kfold_performance(run: RunDir, fits: list[Fit]) -> Item:
    stats = (artifacts.read_summary(run.path) or {}).get("stats") or {}
    key = next((k for k in ("accuracy", "r2", "mae") if k in stats), None)
    base = stats.get(f"baseline_{key}") if key else None
    if key is None or base is None:
        return Item("performance", WARN, [f"no headline metric with a baseline in the k-fold summary ({', '.join(stats)})"],
                    "look at summary.json")
    mean, (low, high), base_mean = stats[key]["mean"], stats[key]["ci95"], base["mean"]
    evidence = [f"{key} over {stats[key]['n']} folds: {mean:.4f} (95% interval {low:.4f} to {high:.4f}); "
                f"baseline {base_mean:.4f}"]
    lower_better = key == "mae"
    beats = (high < base_mean) if lower_better else (low > base_mean)
    worse = (low >= base_mean) if lower_better else (high <= base_mean)
    if worse:
        return Item("performance", FAIL, evidence + ["the model does not beat the trivial baseline in any fold's "
                                                     "interval"], "look at the folds' fit verdicts")
    if not beats:
        return Item("performance", WARN, evidence + ["the interval reaches the baseline"],
                    "more folds, repeats or data for a tighter estimate")
    return Item("performance", PASS, evidence)


def training(fits: list[Fit]) -> Item:
    fit = fits[0]
    config, verdict = fit.config, (fit.metrics.get("fit") or {}).get("verdict")
    optimizer = config.get("optimizer") or {}
    epochs_run, best = fit.metrics.get("epochs_run"), fit.metrics.get("best_epoch")
    evidence = [f"optimizer {optimizer.get('name')} at learning rate {optimizer.get('learning_rate')}"
                + (f" with a {optimizer['schedule'].get('type')} schedule" if optimizer.get("schedule") else "")
                + f"; {epochs_run} epoch(s) run, best epoch {best}; fit verdict: {verdict}"]
    statuses = [f.info.get("status") for f in fits]
    if "diverged" in statuses:
        return Item("training", FAIL, evidence + ["the loss diverged (NaN or infinite)"],
                    "a lower optimizer.learning_rate or optimizer.clipnorm: 1.0")
    stopping = (config.get("callbacks") or {}).get("early_stopping")
    ends_best = bool(stopping and stopping.get("restore_best_weights"))
    if stopping:
        evidence.append(f"early stopping on {stopping.get('monitor')}; the model ends with "
                        f"{'the best epoch' if ends_best else 'the last epoch'}'s weights")
    warnings = []
    if best is not None and epochs_run is not None and best != epochs_run and not ends_best:
        warnings.append(f"the final weights are epoch {epochs_run}'s, not the best epoch {best}'s")
    if verdict in ("learning rate too high", "unscaled target", "underfitting"):
        warnings.append(f"fit verdict: {verdict}")
    if warnings:
        fix = {"learning rate too high": "a lower optimizer.learning_rate",
               "unscaled target": "data.target_scale: standard",
               "underfitting": "more epochs or a larger model"}.get(verdict, "callbacks.early_stopping with "
                                                                          "restore_best_weights: true")
        return Item("training", WARN, evidence + warnings, fix)
    return Item("training", PASS, evidence)


def monitoring(fits: list[Fit]) -> Item:
    fit = fits[0]
    if not fit.history:
        return Item("monitoring", FAIL, [f"no {artifacts.HISTORY}"], "train the run again")
    columns = sorted({key for row in fit.history for key in row})
    validated = [c for c in columns if c.startswith("val_")]
    model = fit.metrics.get("model") or {}
    evidence = [f"{artifacts.HISTORY}: {len(fit.history)} epoch(s), columns {', '.join(columns)}",
                f"model summary: {'yes' if records.read_model_summary(fit.path) else 'no'}; graph picture: "
                f"{'yes' if model.get('graph') else 'no'}",
                f"TensorBoard logs: {'yes' if records.tensorboard_written(fit.path) else 'no'}"]
    missing = []
    if not validated:
        missing.append("no validation curves (split.validation is 0)")
    if not records.read_model_summary(fit.path):
        missing.append("no model summary")
    if not records.tensorboard_written(fit.path):
        missing.append("no TensorBoard logs")
    if not model.get("graph"):
        missing.append(model.get("graph_note") or "no picture of the model graph")
    if missing:
        return Item("monitoring", WARN, evidence + missing,
                    "callbacks.tensorboard: true; pip install pydot and Graphviz for the graph")
    return Item("monitoring", PASS, evidence)


def reproducibility(folder: Path, info: dict, reproduced: dict | None) -> Item:
    runtime = info.get("runtime") or {}
    data = info.get("data") or {}
    commit = info.get("git_commit")
    environment = records.environment_path(folder)
    lines = environment.read_text(encoding="utf-8").splitlines() if environment.is_file() else []
    evidence = [f"seed {info.get('seed')}, backend {info.get('backend')}, deterministic ops: "
                f"{runtime.get('deterministic', (info.get('versions') and 'not recorded'))}, device "
                f"{runtime.get('device', '?')}",
                f"data fingerprint {str(data.get('fingerprint'))[:16]}…; spec saved: "
                f"{artifacts.config_path(folder).is_file()}; environment lock: "
                f"{len(lines)} package(s) in {artifacts.ENVIRONMENT}" if lines else
                f"data fingerprint {str(data.get('fingerprint'))[:16]}…; no {artifacts.ENVIRONMENT}",
                f"git commit: {commit or 'none (the spec is not in a git repository)'}"]
    problems, fixes = [], []
    if reproduced is not None:
        evidence.append(reproduced["summary"])
        if not reproduced["identical"]:
            return Item("reproducibility", FAIL, evidence, "training.deterministic: true, the same backend and "
                                                           "machine; check for unseeded custom code")
    if not lines:
        problems.append("the installed packages were not recorded")
        fixes.append("train it again (dlrun writes environment.txt)")
    if not data.get("fingerprint"):
        problems.append("no data fingerprint")
    if commit is None or str(commit).endswith("+dirty"):
        problems.append("the code and spec are not a clean git commit")
        fixes.append("commit the spec and code before the run")
    if runtime.get("device") == "gpu" and not runtime.get("deterministic"):
        problems.append("GPU ops are not deterministic")
        fixes.append("training.deterministic: true")
    if problems:
        return Item("reproducibility", WARN, evidence + problems, "; ".join(fixes) or None)
    return Item("reproducibility", PASS, evidence)
