"""Safe YAML loading that remembers where every key came from.

`read_located(path)` returns the plain data together with a map from each dotted path
(a tuple of keys and list indices) to the `Loc` (file, line, column) that wrote it, so
that a validation error deep in the spec can point at the exact line of the file.
Only PyYAML's safe loader is used: a `!!python/object` tag is an error, never code.
Only a regular file of at most MAX_SPEC_BYTES is read, and aliases that would expand the
document by more than MAX_ALIAS_NODES nodes (a "billion laughs") are refused before anything is built.
"""

from __future__ import annotations

import os
import stat
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
MAX_ALIAS_NODES = 10_000  # nodes aliases may add when expanded (a "billion laughs" document adds billions)
MAX_SPEC_BYTES = 10 * 1024 * 1024  # a spec is a few kilobytes; a larger file is refused before it is parsed


class _Expansion:
    """Counts the nodes that aliases add to a composed document when expanded, without expanding
    them: each node's expanded size is computed once, however many aliases refer to it."""

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.added = 0
        self.culprit: yaml.Node | None = None  # the collection whose alias went past MAX_ALIAS_NODES

    def size(self, node: yaml.Node) -> int:
        if id(node) in self.sizes:
            return self.sizes[id(node)]
        self.sizes[id(node)] = 1  # a node inside itself (a recursive anchor) counts once; the walk reports it
        children = node.value if isinstance(node, yaml.SequenceNode) else []
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        total = 1
        for child in children:
            repeated = id(child) in self.sizes  # seen before: this is an alias
            grown = self.size(child)
            total += grown
            self.added += grown if repeated else 0
            if self.added > MAX_ALIAS_NODES and self.culprit is None:
                self.culprit = node
        self.sizes[id(node)] = total
        return total


def _refuse_alias_bombs(node: yaml.Node, file: str) -> None:
    expansion = _Expansion()
    expansion.size(node)
    if expansion.culprit is not None:
        here = _mark(file, expansion.culprit)
        raise SpecError([Problem(file, here.line, here.col, "", f"the YAML aliases here expand the spec by more than "
                                                                f"{MAX_ALIAS_NODES:,} values: refused (write the "
                                                                f"values out instead of aliasing them)")])


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
        _refuse_alias_bombs(node, file)
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


NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _spec_text(path: Path, name: str) -> str:
    """The text of a regular file of at most MAX_SPEC_BYTES. Anything else is a SpecError, refused
    before it is opened (a FIFO would block) or read in full (/dev/zero never ends)."""
    def refused(why: str) -> SpecError:
        return SpecError([Problem(name, None, None, "", why)])

    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = next((word for test, word in NOT_REGULAR if test(mode)), "not a regular file")
            raise refused(f"is {kind}, not a YAML file (only regular files are read as specs)")
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)  # non-blocking: a FIFO swapped in since stat() reads as empty
        if len(raw) > MAX_SPEC_BYTES:
            raise refused(f"is larger than {MAX_SPEC_BYTES // 2**20} MB: refused before parsing "
                          f"(a spec is a few kilobytes)")
        return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # the newlines read_text gave
    except FileNotFoundError:
        raise refused("file not found") from None
    except (OSError, ValueError) as exc:  # no permission, an embedded NUL, not UTF-8
        raise refused(f"cannot be read: {exc}") from None


def read_located(path: Path, shown_as: str | None = None) -> Located:
    """Read one YAML file; a missing, unreadable, non-regular or oversized file is a located SpecError."""
    name = shown_as or str(path)
    text = _spec_text(path, name)
    located = parse_located(text, name)
    if not isinstance(located.data, dict):
        raise SpecError([Problem(name, 1, 1, "", "the spec must be a YAML mapping (key: value lines)")])
    return located
