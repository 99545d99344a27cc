"""Safe YAML loading that remembers where every key came from.

`read_located(path)` returns the plain data together with a map from each dotted path
(a tuple of keys and list indices) to the `Loc` (file, line, column) that wrote it, so
that a validation error deep in the spec can point at the exact line of the file.
Only PyYAML's safe loader is used: a `!!python/object` tag is an error, never code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dlrun.errors import Problem, SpecError

PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
PathKey = tuple  # a path into the data: ("model", "layers", 2, "Dense", "units")


@dataclass(frozen=True)
class Loc:
    file: str
    line: int | None = None
    col: int | None = None


@dataclass
class Located:
    """YAML data plus the location of every key and list item in it."""

    data: Any
    locs: dict[PathKey, Loc]

    def loc_of(self, path: PathKey, default_file: str) -> Loc:
        """The location of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.locs.get(tuple(path[:end]))
            if found is not None:
                return found
        return Loc(default_file)


def _mark(file: str, node: yaml.Node) -> Loc:
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


MAX_DEPTH = 64  # deeper nesting than any spec needs: refused rather than risking the recursion limit


def _walk(node: yaml.Node, loader: yaml.SafeLoader, file: str, path: PathKey,
          locs: dict, problems: list[Problem], active: frozenset = frozenset()) -> Any:
    """Build Python data from a composed node, recording locations on the way."""
    if id(node) in active:
        here = _mark(file, node)
        problems.append(Problem(file, here.line, here.col, dotted(path), "malformed YAML: an alias refers to itself "
                                                                         "(a recursive anchor)"))
        return None
    if len(path) > MAX_DEPTH:
        here = _mark(file, node)
        problems.append(Problem(file, here.line, here.col, dotted(path[:3]) + "…",
                                f"malformed YAML: nested more than {MAX_DEPTH} levels deep"))
        return None
    active = active | {id(node)}
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in PLAIN_TAGS:
        here = _mark(file, node)
        problems.append(Problem(file, here.line, here.col, dotted(path),
                                f"malformed YAML: the tag {node.tag} is not allowed (only plain YAML is accepted: no Python object tags)"))
        return None
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                here = _mark(file, key_node)
                problems.append(Problem(file, here.line, here.col, dotted(path),
                                        f"a key must be a plain name, not {key!r}"))
                continue
            key = str(key)
            child = (*path, key)
            if key in out:
                here = _mark(file, key_node)
                problems.append(Problem(file, here.line, here.col, dotted(child),
                                        "duplicate key: it is already set above in this mapping"))
            locs[child] = _mark(file, key_node)
            out[key] = _walk(value_node, loader, file, child, locs, problems, active)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            locs[child] = _mark(file, item)
            items.append(_walk(item, loader, file, child, locs, problems, active))
        return items
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. an integer of thousands of digits
        here = _mark(file, node)
        problems.append(Problem(file, here.line, here.col, dotted(path), f"this value cannot be read: {exc}"))
        return None


def dotted(path: PathKey) -> str:
    """('model', 'layers', 2, 'Dense') -> 'model.layers[2].Dense'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_located(text: str, file: str) -> Located:
    """Parse YAML text safely; raise SpecError (with line and column) when it is malformed."""
    problems: list[Problem] = []
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return Located({}, {})
        locs: dict[PathKey, Loc] = {(): Loc(file, 1, 1)}
        data = _walk(node, loader, file, (), locs, problems)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_malformed(exc, file, text)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise SpecError([Problem(file, line, col, "", f"malformed YAML: the character {exc.character!r} is not "
                                                      f"allowed in YAML text")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, None, None, "", f"malformed YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError([Problem(file, None, None, "", f"malformed YAML: nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if problems:
        raise SpecError(problems)
    return Located(data, locs)


JARGON = {"'<scalar>'": "a value", "'<stream end>'": "the end of the file", "<block end>": "the end of a block",
          "'<block mapping start>'": "a new mapping", "'<block end>'": "the end of a block"}


def _malformed(exc: yaml.MarkedYAMLError, file: str, text: str) -> Problem:
    """A PyYAML error in plain words, placed where the broken construct starts when that helps."""
    mark = exc.problem_mark or exc.context_mark
    last_line = max(1, len(text.splitlines()))
    line = min(mark.line + 1, last_line) if mark else None
    col = mark.column + 1 if mark and mark.line + 1 <= last_line else 1
    what = exc.problem or "malformed YAML"
    for word, plain in JARGON.items():
        what = what.replace(word, plain)
    if isinstance(exc, yaml.constructor.ConstructorError):
        what = f"{what} (only plain YAML is accepted: no Python object tags)"
    elif exc.context and exc.context_mark is not None and "flow" in exc.context:
        # an unclosed [ or {: point at where it opened, which is where the fix goes
        start = exc.context_mark
        opener, closer = ("[", "]") if "sequence" in exc.context else ("{", "}")
        where = f"line {line}" if line else "the end"
        what = f"the '{opener}' opened here is not closed: {what} at {where} (is a '{closer}' or a comma missing?)"
        line, col = start.line + 1, start.column + 1
    elif exc.context and exc.context_mark is not None:
        start = exc.context_mark
        what = f"{what} — {exc.context} that starts at line {start.line + 1}, column {start.column + 1}"
    return Problem(file, line, col, "", f"malformed YAML: {what}")


def read_located(path: Path, shown_as: str | None = None) -> Located:
    """Read one YAML file; a missing or unreadable file is a located SpecError."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(name, None, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(name, None, None, "", "is a directory, not a YAML file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(name, None, None, "", f"cannot be read: {exc}")]) from None
    located = parse_located(text, name)
    if not isinstance(located.data, dict):
        raise SpecError([Problem(name, 1, 1, "", "the spec must be a YAML mapping (key: value lines)")])
    return located
