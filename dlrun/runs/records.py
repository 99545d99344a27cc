"""The files a run keeps for reading it later and auditing it (`dlrun audit`): the model summary and
graph, the environment lock, the audit itself, and whether TensorBoard wrote logs. Their names are
spelled in runs/artifacts.py, like every run file's."""

from __future__ import annotations

from pathlib import Path

from dlrun.runs import artifacts
from dlrun.runs.atomic import write_json, write_text


def write_model_summary(folder: Path, text: str) -> None:
    write_text(Path(folder) / artifacts.MODEL_SUMMARY, text)


def read_model_summary(folder: Path) -> str | None:
    path = Path(folder) / artifacts.MODEL_SUMMARY
    return path.read_text(encoding="utf-8") if path.is_file() else None


def model_graph_path(folder: Path) -> Path:
    return artifacts.plots_folder(folder) / artifacts.MODEL_GRAPH


def write_environment(folder: Path, lines: list[str]) -> None:
    write_text(Path(folder) / artifacts.ENVIRONMENT, "\n".join(lines) + "\n")


def environment_path(folder: Path) -> Path:
    return Path(folder) / artifacts.ENVIRONMENT


def write_audit(folder: Path, document: dict, markdown: str) -> None:
    write_json(Path(folder) / artifacts.AUDIT_JSON, document)
    write_text(Path(folder) / artifacts.AUDIT_REPORT, markdown)


def audit_paths(folder: Path) -> list[Path]:
    return [Path(folder) / artifacts.AUDIT_REPORT, Path(folder) / artifacts.AUDIT_JSON]


def tensorboard_written(folder: Path) -> bool:
    """Whether the fit wrote TensorBoard logs (callbacks.tensorboard)."""
    return any(artifacts.tensorboard_folder(folder).rglob("*")) if artifacts.tensorboard_folder(folder).is_dir() else False


def write_manifest(folder: Path, document: dict) -> None:
    """export/manifest.json: what `dlrun export` wrote and how each format takes its input."""
    write_json(Path(folder) / artifacts.MANIFEST, document)


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / artifacts.MANIFEST
    return artifacts.read_json_object(path, ()) if path.is_file() else None
