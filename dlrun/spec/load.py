"""From a YAML file (plus `extends:` and `--set` overrides) to a validated ExperimentSpec.

Every problem found is collected and raised once as a SpecError whose lines read
`config.yaml:12:5  model.layers[2].Dense.untis: unknown argument of Dense — did you mean 'units'?`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlrun.errors import Problem, SpecError
from dlrun.spec.catalog import CUSTOM_NAMES, suggest
from dlrun.spec.checks import check_combinations, check_free_form
from dlrun.spec.models import UNION_TAGS, ExperimentSpec
from dlrun.spec.schema_walk import allowed_keys
from dlrun.spec.split_forms import misplaced_key
from dlrun.spec.sweep_forms import split_path
from dlrun.spec.upgrade import upgrade_saved
from dlrun.spec.yamlsource import Loc, Located, dotted, parse_located, read_located

MAX_EXTENDS_DEPTH = 10


@dataclass
class LoadedSpec:
    """A validated spec with where it came from."""

    spec: ExperimentSpec
    path: Path            # the spec file given by the user
    data: dict            # the merged raw data (after extends and overrides)
    located: Located      # where each key came from
    shown: str            # the file name as the user wrote it
    data_dir: Path | None = None  # where data paths are relative to, when not the spec's folder

    @property
    def base_dir(self) -> Path:
        """Data paths in the spec are relative to the spec file's folder."""
        return self.data_dir or self.path.parent

    def locate(self, path: tuple) -> Loc:
        return self.located.loc_of(path, self.shown)

    def error(self, found: list[tuple[tuple, str]]) -> SpecError:
        """A SpecError for (path, message) pairs found after loading (e.g. against the data)."""
        problems = []
        for path, message in found:
            loc = self.locate(path)
            problems.append(Problem(loc.file, loc.line, loc.col, dotted(path), message))
        return SpecError(problems)

    def with_data(self, data: dict) -> "LoadedSpec":
        """The same spec re-validated from changed data (locations are kept)."""
        located = Located(data, self.located.locs)
        return LoadedSpec(validate_data(located, self.shown), self.path, data, located, self.shown, self.data_dir)

    def with_sections(self, **sections: dict) -> "LoadedSpec":
        """The spec with some keys of some sections replaced, re-validated.

        Example:
            >>> loaded.with_sections(training={"epochs": 3})  # doctest: +SKIP
        """
        data = copy.deepcopy(self.data)
        for section, values in sections.items():
            data[section] = {**(data.get(section) or {}), **values}
        return self.with_data(data)


def _deep_merge(base: Located, child: Located) -> Located:
    data = copy.deepcopy(base.data)
    locs = dict(base.locs)

    def merge(into: dict, top: dict, path: tuple) -> None:
        for key, value in top.items():
            here = (*path, key)
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value, here)
            else:
                for old in [p for p in locs if p[:len(here)] == here]:
                    del locs[old]
                into[key] = copy.deepcopy(value)
    merge(data, child.data, ())
    locs.update(child.locs)
    return Located(data, locs)


def _with_extends(path: Path, shown: str, chain: tuple[Path, ...] = ()) -> Located:
    located = read_located(path, shown)
    parents = located.data.pop("extends", None)
    if parents is None:
        return located
    where = located.locs.get(("extends",), Loc(shown))
    parents = [parents] if isinstance(parents, str) else parents
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise SpecError([Problem(shown, where.line, where.col, "extends", "must be a file name or a list of them")])
    merged: Located | None = None
    for parent in parents:
        try:
            parent_path = (path.parent / parent).resolve()
            exists = parent_path.exists()  # a directory or FIFO is named as such when it is read
        except (OSError, ValueError, RuntimeError) as exc:
            raise SpecError([Problem(shown, where.line, where.col, "extends",
                                     f"'{parent[:80]}' cannot be used as a file name ({exc})")]) from None
        if parent_path in chain or parent_path == path.resolve():
            raise SpecError([Problem(shown, where.line, where.col, "extends", f"'{parent}' extends itself in a cycle")])
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise SpecError([Problem(shown, where.line, where.col, "extends", "too many nested extends")])
        if not exists:
            raise SpecError([Problem(shown, where.line, where.col, "extends",
                                     f"'{parent}' not found (looked for {parent_path})")])
        parent_shown = str(Path(shown).parent / parent)
        loaded = _with_extends(parent_path, parent_shown, (*chain, path.resolve()))
        merged = loaded if merged is None else _deep_merge(merged, loaded)
    located.locs.pop(("extends",), None)
    return _deep_merge(merged, located) if merged else located


SET_USAGE = "expected KEY.PATH=VALUE, e.g. training.epochs=3"


def parse_override(text: str) -> tuple[list[str], Any]:
    """'training.epochs=3' -> (['training', 'epochs'], 3); the value is read as YAML. A list item is
    `.N` or `[N]`: 'model.layers[0].Dense.units=8' -> (['model', 'layers', '0', 'Dense', 'units'], 8)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecError([Problem("--set", None, None, text, SET_USAGE)])
    try:
        parts = split_path(key.strip())
    except ValueError as exc:
        raise SpecError([Problem("--set", None, None, key.strip(), f"in '{text}': {exc}; {SET_USAGE}")]) from None
    try:
        value = parse_located(raw, "--set").data if raw.strip() else None  # aliases bounded as in a spec file
    except SpecError as exc:
        if "YAML aliases" in str(exc):
            raise SpecError([Problem("--set", None, None, text, "its YAML aliases expand too far: refused")]) from None
        value = raw
    except (ValueError, RecursionError):
        value = raw
    return parts, value


def apply_overrides(located: Located, overrides: list[str]) -> None:
    """Apply `--set` overrides in place; an unknown key is an error naming it."""
    problems = []
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except SpecError as exc:
            problems.extend(exc.problems)  # every malformed --set at once, with the unknown keys
            continue
        node: Any = located.data
        path: tuple = ()
        ok = True
        for depth, part in enumerate(parts):
            key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            allowed = allowed_keys(path)
            if isinstance(key, str) and allowed is not None and key not in allowed:
                problems.append(Problem("--set", None, None, dotted((*path, key)),
                                        f"unknown key in '{text}'{suggest(key, allowed)}"))
                ok = False
                break
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not isinstance(key, int) or key >= len(node):
                    problems.append(Problem("--set", None, None, dotted((*path, part)),
                                            f"no list item {part} in '{text}' (the list has {len(node)})"))
                    ok = False
                    break
            elif not isinstance(node, dict):
                problems.append(Problem("--set", None, None, dotted(path), f"'{dotted(path)}' is not a mapping in '{text}'"))
                ok = False
                break
            path = (*path, key)
            if last:
                node[key] = value
            else:
                if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                    node[key] = {}
                node = node[key]
        if ok:
            for old in [p for p in located.locs if p[:len(path)] == path]:
                del located.locs[old]
            located.locs[path] = Loc("--set")
    if problems:
        raise SpecError(problems)


def _without_tags(loc: tuple) -> tuple:
    """A pydantic error location without the tag of the union form it went through:
    ('split', 'holdout', 'folds') -> ('split', 'folds')."""
    for prefix, tags in UNION_TAGS.items():
        n = len(prefix)
        if len(loc) > n and loc[:n] == prefix and loc[n] in tags:
            return (*prefix, *loc[n + 1:])
    return loc


def _data_path(data: Any, loc: tuple, kind: str) -> tuple[tuple, tuple]:
    """Map a pydantic error location onto the data: (path that exists, path to show)."""
    loc = _without_tags(loc)
    node, path, shown = data, (), ()
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node, path, shown = node[part], (*path, part), (*shown, part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node, path, shown = node[part], (*path, part), (*shown, part)
        elif index == len(loc) - 1 and kind == "missing":
            shown = (*shown, part)
    return path, shown


def _message(error: dict, shown: tuple) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        misplaced = misplaced_key(shown)
        if misplaced:
            return misplaced
        allowed = allowed_keys(shown[:-1]) or set()
        return f"unknown field{suggest(shown[-1], sorted(allowed))}"
    if kind == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, (str, int, float, bool)) and not isinstance(value, dict):
        msg = f"{msg} (got {value!r})"
    return msg


def to_problems(exc: ValidationError, located: Located, default_file: str) -> list[Problem]:
    problems: dict[str, Problem] = {}
    for error in exc.errors(include_url=False):
        path, shown = _data_path(located.data, tuple(error["loc"]), error["type"])
        loc = located.loc_of(path, default_file)
        key = dotted(shown)
        if key not in problems:  # a union reports one error per member; keep the first
            problems[key] = Problem(loc.file, loc.line, loc.col, key, _message(error, shown))
    return list(problems.values())


def _context(data: Any) -> dict:
    """Validation context: with `imports:`, losses and metrics may name the modules' custom objects."""
    return {CUSTOM_NAMES: isinstance(data, dict) and bool(data.get("imports"))}


def validate_data(located: Located, default_file: str) -> ExperimentSpec:
    """Validate merged data; collect pydantic and free-form problems into one SpecError."""
    problems: list[Problem] = []
    spec = None
    try:
        spec = ExperimentSpec.model_validate(located.data, context=_context(located.data))
    except ValidationError as exc:
        problems.extend(to_problems(exc, located, default_file))
    reported = {(p.path, p.message) for p in problems}
    for path, message in check_free_form(located.data):
        if (dotted(path), message) in reported:
            continue  # a graph node's shape is checked by both: NodeSpec and the free-form walk
        loc = located.loc_of(path, default_file)
        problems.append(Problem(loc.file, loc.line, loc.col, dotted(path), message))
    if spec is not None:
        for path, message in check_combinations(spec):
            loc = located.loc_of(path, default_file)
            problems.append(Problem(loc.file, loc.line, loc.col, dotted(path), message))
    if problems:
        raise SpecError(problems)
    return spec


def validate_saved(data: dict, shown: str) -> ExperimentSpec:
    """A run's saved config.yaml as a spec, upgraded from an earlier version's shape first
    (`upgrade_saved`); what still does not fit is a SpecError naming the key."""
    data = upgrade_saved(data)
    try:
        return ExperimentSpec.model_validate(data, context=_context(data))
    except ValidationError as exc:
        raise SpecError(to_problems(exc, Located(data, {}), shown)) from None


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = (), saved: bool = False,
              data_dir: Path | None = None) -> LoadedSpec:
    """Load, merge, override and validate a spec file; with `saved`, the file is a run's
    config.yaml, possibly written by an earlier version (see `upgrade_saved`). `data_dir`: where
    data paths and `imports:` modules are found, when not beside the file (a saved run's: where
    the run started).

    Example:
        >>> loaded = load_spec("configs/digits_mlp.yaml", ["training.epochs=1"])  # doctest: +SKIP
        >>> loaded.spec.training.epochs
        1
    """
    path = Path(path)
    shown = str(path)
    located = _with_extends(path, shown)
    if saved:
        located = Located(upgrade_saved(located.data), located.locs)
    apply_overrides(located, list(overrides))
    if "name" not in located.data:
        located.data["name"] = _default_name(path)
    spec = validate_data(located, shown)
    loaded = LoadedSpec(spec=spec, path=path.resolve(), data=located.data, located=located, shown=shown,
                        data_dir=data_dir)
    missing = [(("imports", i), f"module '{name}' is not found (looked next to the spec and on the Python path)")
               for i, name in enumerate(spec.imports) if not _findable(name, loaded.base_dir)]
    if missing:
        raise loaded.error(missing)
    if not saved:  # a saved run is checked where it is loaded, against the backend asked for then
        from dlrun.spec.backends import backend_problems

        problems = backend_problems(spec)
        if problems:
            raise loaded.error(problems)
    return loaded


def _findable(module: str, base_dir: Path) -> bool:
    """Whether the top-level package of `module` can be found, without running any of its code."""
    import importlib.util
    import sys

    top = module.split(".")[0]
    try:
        if (base_dir / f"{top}.py").is_file() or (base_dir / top / "__init__.py").is_file():
            return True
        return top in sys.modules or importlib.util.find_spec(top) is not None
    except (OSError, ValueError, ImportError):
        return False


def _default_name(path: Path) -> str:
    stem = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "-" for c in path.stem).strip("-._")
    return stem[:64] or "experiment"
