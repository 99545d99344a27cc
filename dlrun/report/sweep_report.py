"""A sweep's report for people (`report.md`) and its plots: the best trial, the top ten, which
parameters mattered (Optuna's importances), the objective beside the trivial baseline, and the
retrained best model's one look at the test set."""

from __future__ import annotations

import math
from pathlib import Path

from dlrun.report.plots import _figure, _save
from dlrun.report.sweep_view import ranked
from dlrun.runs import artifacts
from dlrun.runs.atomic import write_text
from dlrun.spec.monitor import Direction


# fANOVA fits a random forest to the completed trials: with fewer than this many, the shares it
# reports mostly reflect which few points happened to be sampled, not what the parameters do
MIN_TRIALS_FOR_IMPORTANCES = 10


def importance_warning(completed: int) -> str | None:
    """Why importances from `completed` trials are not to be trusted, or None when there are enough."""
    if completed >= MIN_TRIALS_FOR_IMPORTANCES:
        return None
    return (f"only {completed} completed trial{'s' if completed != 1 else ''}: importances from fewer than "
            f"{MIN_TRIALS_FOR_IMPORTANCES} are unreliable (fANOVA has too few points to tell the parameters "
            f"apart); run more trials (sweep.trials) before trusting them")


def fmt(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def importances(study) -> dict[str, float]:
    """Each parameter's share of the objective's variation (fANOVA), or {} with too few trials to compute
    it; computed from fewer than MIN_TRIALS_FOR_IMPORTANCES, the report and plot carry a warning."""
    import optuna

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(finished) < 2 or len({tuple(sorted(t.params.items())) for t in finished}) < 2:
        return {}
    try:
        found = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
    return {name: float(value) for name, value in found.items()}


def objective_baseline(metric: str, folder: Path) -> tuple[float, str] | None:
    """The trivial baseline's value of the objective on the rows the trial was scored on, when one exists:
    accuracy → the training majority class; mae → the training median, mse → the training mean; a classifier's loss → the
    cross-entropy of always predicting the scored rows' own class frequencies (the best constant guess)."""
    name = metric[len("val_"):] if metric.startswith("val_") else metric
    metrics = artifacts.read_metrics(folder)
    if metrics is None:
        summary = artifacts.read_summary(folder) or {}
        stats = summary.get("stats", {}).get(f"baseline_{name}")
        return None if not stats else (stats["mean"], "the trivial baseline, mean over folds")
    result = metrics.get(metrics.get("part", ""), {})
    baseline = result.get("baseline", {}) if isinstance(result, dict) else {}
    if name in baseline:
        return float(baseline[name]), baseline.get("kind", "the trivial baseline")
    if name == "loss" and "confusion_matrix" in result:
        counts = [sum(row) for row in result["confusion_matrix"]]
        total = sum(counts)
        if total:
            entropy = -sum(c / total * math.log(c / total) for c in counts if c)
            return entropy, "always predict the scored rows' class frequencies (cross-entropy)"
    if name == "loss" and "mse" in baseline:
        return float(baseline["mse"]), "always predict the training mean (mse)"
    return None


def write_sweep_report(folder: Path, study, settings, rows: list[dict], best: dict | None, plots_on: bool) -> None:
    folder = Path(folder)
    found = importances(study)
    images = _plots(folder, study, found) if plots_on else []
    write_text(folder / artifacts.REPORT, render(folder, settings, rows, best, found, images))


def render(folder: Path, settings, rows: list[dict], best: dict | None, found: dict[str, float],
           images: list[Path]) -> str:
    metric, direction = settings.objective.metric, Direction.of(settings.objective.metric, settings.objective.mode)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "pruned", "failed")}
    lines = [f"# Sweep {folder.name}", "",
             f"Objective: **{metric}** ({'higher' if direction.maximize else 'lower'} is better), from "
             f"{'the k-fold folds' if settings.evaluate == 'kfold' else 'the validation part'}; the test set "
             f"chose nothing. Algorithm {settings.algorithm}, pruner {settings.pruner}, seed {settings.seed}.", "",
             f"Trials: {len(rows)} — {counts['completed']} completed, {counts['pruned']} pruned, "
             f"{counts['failed']} failed.", ""]
    if best is None:
        lines += ["No trial completed, so there is no best trial.", ""]
    else:
        lines += _best_section(folder, metric, best)
    top = ranked(rows, direction)[:10]
    if top:
        params = list(settings.params)
        lines += ["## Top trials", "", "| trial | " + " | ".join([metric, *params, "epochs", "seconds"]) + " |",
                  "|" + "---|" * (4 + len(params))]
        lines += ["| " + " | ".join([f"{r['number']:03d}", fmt(r["objective"]), *(fmt(r.get(p)) for p in params),
                                      fmt(r.get("epochs_run")), fmt(r.get("seconds"))]) + " |" for r in top]
        lines.append("")
    lines += ["## Which parameters mattered", ""]
    if found:
        warning = importance_warning(counts["completed"])
        lines += [f"**Warning: {warning}.**", ""] if warning else []
        lines += ["Share of the objective's variation each parameter explains (fANOVA over the completed trials):",
                  "", "| parameter | importance |", "|---|---|"]
        lines += [f"| {name} | {value:.3f} |" for name, value in found.items()]
    else:
        lines.append("Too few completed trials with differing parameters to tell.")
    lines.append("")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        lines += ["## Failed trials", ""] + [f"- {r['number']:03d}: {r.get('error') or 'failed'}" for r in failed] + [""]
    lines += [f"![{Path(p).stem}](plots/{Path(p).name})" for p in images]
    return "\n".join(lines).rstrip() + "\n"


def _best_section(folder: Path, metric: str, best: dict) -> list[str]:
    lines = ["## Best trial", "", f"Trial {best['number']:03d} (`{best['run_id']}`): {metric} = "
                                  f"{fmt(best['objective']['value'])}", ""]
    lines += [f"- `{path}`: {fmt(value)}" for path, value in best["params"].items()]
    baseline = objective_baseline(metric, artifacts.trial_folder(folder, best["number"]))
    if baseline is not None:
        value, kind = baseline
        lines += ["", f"Trivial baseline of {metric}: {fmt(value)} ({kind})."]
    retrained = best.get("retrained")
    if retrained:
        test = retrained["test"]
        shown = ", ".join(f"{k} {fmt(test[k])}" for k in ("accuracy", "balanced_accuracy", "mae", "rmse", "r2")
                          if k in test)
        lines += ["", f"Retrained on all {retrained['train_rows']} rows but the test rows, for {retrained['epochs']} epochs "
                      f"(`{retrained['folder']}/`), scored once on {retrained['test_rows']} test rows: {shown}."]
    return lines + [""]


def _plots(folder: Path, study, found: dict[str, float]) -> list[Path]:
    """Optimisation history, parameter importances and a slice per parameter (Optuna's matplotlib plots)."""
    import warnings

    plt = _figure()
    from optuna.visualization import matplotlib as views

    out = artifacts.plots_folder(folder)
    made = []
    wanted = [("optimization_history", views.plot_optimization_history)]
    if found:
        completed = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
        warning = importance_warning(completed)
        wanted.append(("param_importances", lambda study: _importance_plot(plt, found, warning)))
    if any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        wanted.append(("slices", views.plot_slice))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        for name, draw in wanted:
            try:
                axes = draw(study)
            except (ValueError, RuntimeError):
                continue
            first = axes.flat[0] if hasattr(axes, "flat") else axes
            made.append(_save(first.figure, out / f"{name}.png"))
            plt.close(first.figure)
    return made


def _importance_plot(plt, found: dict[str, float], warning: str | None = None):
    """The importances already computed for the report, as horizontal bars (largest on top); a
    warning, when there were too few trials to trust them, under the title."""
    names = list(found)[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.45 * len(names)))
    ax.barh(names, [found[n] for n in names], color="tab:blue")
    ax.set_xlabel("share of the objective's variation (fANOVA)")
    ax.set_title("Parameter importances" + (f"\nunreliable: {warning.split(':')[0]}" if warning else ""),
                 color="black" if warning is None else "tab:red")
    for y, name in enumerate(names):
        ax.text(found[name], y, f" {found[name]:.2f}", va="center")
    return ax
