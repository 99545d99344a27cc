"""The spec's `tracking:` section: where a run is recorded besides its own folder (MLflow).

`tracking: {mlflow: {}}` records every train, k-fold and sweep run in a local SQLite store beside
the runs (`<runs_dir>/mlflow.db`); `uri:` names a tracking server instead (`--track URI`).
Nothing here imports MLflow: dlrun/train/tracking.py does, only when a run trains.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from dlrun.spec.section import Section


class MlflowTracking(Section):
    """Record the run in MLflow: the resolved spec as parameters, per-epoch metrics, tags and the run's files."""

    uri: str | None = Field(None, description="The tracking URI: a server (http://HOST:5000), a database "
                                              "(sqlite:///PATH/mlflow.db) or a folder (file:///PATH). Default: a "
                                              "SQLite store in the runs directory, sqlite:///<runs_dir>/mlflow.db. "
                                              "Checked before anything trains; pip install \"dlrun[mlflow]\".")
    experiment: str | None = Field(None, description="The MLflow experiment the runs go to (made when missing). "
                                                     "Default: the spec's name.")

    @field_validator("uri", "experiment")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave it out for the default")
        return value


class TrackingSpec(Section):
    """Experiment tracking besides the run folder: k-fold folds and sweep trials become child runs."""

    mlflow: MlflowTracking | None = Field(None, description="Track runs in MLflow; `{}` for a local SQLite store "
                                                            "in the runs directory.")
