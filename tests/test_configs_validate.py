"""Every example in configs/ is a valid spec and says, in its header comment, how to run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrun.spec import load_spec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXAMPLES = sorted(CONFIGS.glob("*.yaml"))


def header(path: Path) -> list[str]:
    """The comment lines at the top of a file, before the first line of YAML."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def test_there_are_example_configs():
    assert EXAMPLES, f"no *.yaml in {CONFIGS}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths inside a spec are relative to the spec, not the working directory
    loaded = load_spec(path)
    assert loaded.spec.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_header_says_how_to_run_it(path):
    text = "\n".join(header(path))
    assert text, f"{path.name} does not start with a # comment"
    command = "dlrun kfold" if "kfold" in path.name else "dlrun train"
    assert command in text, f"the header of {path.name} does not say `{command} ...`"
    assert f"configs/{path.name}" in text, f"the header of {path.name} names another file to run"
