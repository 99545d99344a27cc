"""What is needed to repeat a run: versions, git commit, host, command line."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("dlrun", "tensorflow", "jax", "jaxlib", "keras", "numpy", "scikit-learn", "pandas", "pydantic")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(folder: Path) -> str | None:
    """The commit of the repository holding `folder` (with '+dirty' when changed), if any."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        if not commit:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(spec_dir: Path) -> dict:
    return {
        "command": sys.argv,
        "host": platform.node(),
        "platform": platform.platform(),
        "versions": versions(),
        "git_commit": git_commit(spec_dir),
    }


def installed_packages() -> list[str]:
    """Every installed distribution as `name==version`, sorted: the run's environment lock
    (environment.txt), enough to rebuild the environment with `pip install -r environment.txt`."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = f"{name}=={dist.version}"
    return [found[key] for key in sorted(found)]
