"""Every example in configs/: it is a valid spec holding the values its file declares, its header
comment says how to run it, and (slow) each one trains end to end on a small sample for 1 epoch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlrun.spec import load_spec
from tests.support import CONFIGS

EXAMPLES = sorted(CONFIGS.glob("*.yaml"))


def header(path: Path) -> list[str]:
    """The comment lines at the top of a file, before the first line of YAML."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def declared(path: Path, *keys: str):
    """The value a config file writes at keys, looked up in the files it `extends:` when it does not
    write it itself (read with plain YAML, independently of dlrun's loader); None when nobody does."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    node = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            parent = data.get("extends")
            return declared(path.parent / parent, *keys) if parent else None
        node = node[key]
    return node


def test_there_are_example_configs():
    assert EXAMPLES, f"no *.yaml in {CONFIGS}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates_with_the_values_it_declares(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths inside a spec are relative to the spec, not the working directory
    spec = load_spec(path).spec
    # the name a config declares is its own (never a parent's) and, by convention, its file name
    own_name = yaml.safe_load(path.read_text(encoding="utf-8")).get("name")
    assert spec.name == own_name == path.stem.replace("_", "-")
    assert spec.data.source == declared(path, "data", "source")
    for keys, value in ((("seed",), spec.seed), (("training", "epochs"), spec.training.epochs),
                        (("training", "batch_size"), spec.training.batch_size)):
        if declared(path, *keys) is not None:
            assert value == declared(path, *keys), ".".join(keys)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_header_says_how_to_run_it(path):
    text = "\n".join(header(path))
    assert text, f"{path.name} does not start with a # comment"
    command = "dlrun sweep" if "sweep" in path.name else "dlrun kfold" if "kfold" in path.name else "dlrun train"
    assert command in text, f"the header of {path.name} does not say `{command} ...`"
    assert f"configs/{path.name}" in text, f"the header of {path.name} names another file to run"


# ---- which command each config is for (every config is run by tests/e2e/test_smoke.py, `dlrun smoke configs/`) ----

def _holdout(path: Path) -> bool:
    """Whether a config is for `dlrun train` (split.protocol holdout), not a cross-validation protocol."""
    return load_spec(path).spec.split.protocol == "holdout"


OFFLINE = sorted(p.name for p in CONFIGS.glob("*.yaml") if "keras:" not in p.read_text() and _holdout(p))


def _cv_configs() -> list[str]:
    from dlrun.protocols.kfold import CV_PROTOCOLS

    return sorted(p.name for p in CONFIGS.glob("*.yaml") if load_spec(p).spec.split.protocol in CV_PROTOCOLS)


CV_CONFIGS = _cv_configs()


def test_the_cross_validation_configs_are_found():
    assert {"iris_kfold.yaml", "diabetes_kfold.yaml"} <= set(CV_CONFIGS)
    assert not set(CV_CONFIGS) & set(OFFLINE)


SWEEP_CONFIGS = sorted(p.name for p in CONFIGS.glob("*.yaml") if load_spec(p).spec.sweep is not None)


def test_the_sweep_configs_are_found():
    assert "iris_sweep.yaml" in SWEEP_CONFIGS
