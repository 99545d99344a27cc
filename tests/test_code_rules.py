"""Rules of the code's shape, read from its source: which kind of feature data is in hand is asked only
in data/ (data/feature_data.py answers for every kind), the kind of a data source only through
spec/source_kinds.py, no function longer than 60 lines, none with more than 2 boolean parameters."""

from __future__ import annotations

import ast
import re

from tests.support import ROOT

DLRUN = ROOT / "dlrun"
MAX_FUNCTION_LINES = 60
MAX_BOOL_PARAMETERS = 2
FEATURE_KINDS = ("ImageFiles", "StreamedTable", "TextFiles")
SOURCE_SCHEMES = ("sklearn", "csv", "parquet", "npz", "images", "text", "keras")
FEATURE_KIND_NAMES = ("table", "array", "images", "text")
KIND_OWNERS = ("dlrun/spec/source_kinds.py",)


def _outside_data() -> dict[str, ast.Module]:
    return {p.relative_to(ROOT).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(DLRUN.rglob("*.py")) if "dlrun/data/" not in p.relative_to(ROOT).as_posix()}


def _all_functions():
    for path in sorted(DLRUN.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT).as_posix(), node


def _named(node) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def test_no_isinstance_on_a_feature_data_kind_outside_data():
    found = []
    for module, tree in _outside_data().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _named(node.func) == "isinstance" and len(node.args) == 2:
                kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
                if any(_named(k) in FEATURE_KINDS for k in kinds):
                    found.append(f"{module}:{node.lineno}")
    assert found == []


def _kind_strings(node) -> set[str]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}


def test_no_source_or_feature_kind_string_is_compared_outside_data():
    """`scheme == "csv"`, `data.scheme in ("images", "text")`, `pre.kind == "images"` and the like: the
    kind tables answer such questions (spec/source_kinds.py, data/feature_data.py)."""
    found = []
    for module, tree in _outside_data().items():
        if module in KIND_OWNERS:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            names = {_named(side) for side in sides}
            strings = set().union(*(_kind_strings(side) for side in sides))
            if "scheme" in names and strings & set(SOURCE_SCHEMES):
                found.append(f"{module}:{node.lineno} scheme")
            if "kind" in names and strings & set(FEATURE_KIND_NAMES):
                found.append(f"{module}:{node.lineno} kind")
    assert found == []


def test_the_kind_rules_catch_what_they_forbid():
    """The two rules above on a planted offender: they must fail on it."""
    planted = ast.parse('if isinstance(x, ImageFiles) or data.scheme in ("images", "text"):\n    pass\n')
    calls = [n for n in ast.walk(planted) if isinstance(n, ast.Call) and _named(n.func) == "isinstance"]
    compares = [n for n in ast.walk(planted) if isinstance(n, ast.Compare)]
    assert _named(calls[0].args[1]) in FEATURE_KINDS
    assert _kind_strings(compares[0].comparators[0]) == {"images", "text"}
    assert _named(compares[0].left) == "scheme"


def test_no_function_is_longer_than_60_lines():
    long = [f"{module}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for module, node in _all_functions() if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def _bool_parameters(node) -> list[str]:
    args = node.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    defaults = dict(zip([a.arg for a in [*args.posonlyargs, *args.args]][::-1], args.defaults[::-1]))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    out = []
    for arg in named:
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
        default = defaults.get(arg.arg)
        if re.fullmatch(r"bool|Optional\[bool\]|bool \| None", annotation) \
                or (isinstance(default, ast.Constant) and isinstance(default.value, bool)):
            out.append(arg.arg)
    return out


def _is_cli_command(module: str, node) -> bool:
    """A Typer command of cli.py: its flags are the command line's own options (--smoke, --verbose ...)."""
    return module == "dlrun/cli.py" and any(
        isinstance(d, ast.Call) and _named(d.func) == "command" for d in node.decorator_list)


def test_no_function_has_more_than_2_boolean_parameters():
    many = [f"{module}:{node.lineno} {node.name} {_bool_parameters(node)}" for module, node in _all_functions()
            if len(_bool_parameters(node)) > MAX_BOOL_PARAMETERS and not _is_cli_command(module, node)]
    assert many == []


def test_the_published_schema_is_current_and_speaks_of_dlrun_only():
    import json

    from dlrun.spec.schema_walk import schema_document

    published = (ROOT / "dlrun.schema.json").read_text(encoding="utf-8")
    assert json.loads(published) == schema_document(), "run: dlrun schema -o dlrun.schema.json"
    assert not re.search(r"\bseeds?'|\bthe seeds\b|course", published)
