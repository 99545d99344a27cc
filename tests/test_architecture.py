"""The shape of the package, checked from its source: the import layers, no import cycles, thin
CLI commands, small modules, one owner of the run directory's file names, and a README whose
"Sections" list names only fields the spec models really have.

Nothing here imports TensorFlow: the checks read dlrun/ and README.md as text or as ASTs, build
the import graph with grimp, run `lint-imports`, and import only the spec's pydantic models.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import typing
from pathlib import Path


from tests.support import ROOT

DLRUN = ROOT / "dlrun"
README = ROOT / "README.md"

MAX_MODULE_LINES = 400
MAX_COMMAND_BODY_LINES = 15


def _run_files() -> tuple[str, ...]:
    """Every file name a run directory can hold: the string constants of runs/artifacts.py that name a
    file (they have a suffix), read from its AST so that a new file there is guarded at once."""
    tree = ast.parse((DLRUN / "runs" / "artifacts.py").read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper():
            for const in ast.walk(node.value):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) \
                        and re.fullmatch(r"[\w-]+\.[a-z]+", const.value):
                    names.append(const.value)
    return tuple(dict.fromkeys(names))


RUN_FILES = _run_files()


def _modules() -> dict[str, Path]:
    """Every Python file of the package, keyed by its path relative to the repository."""
    return {path.relative_to(ROOT).as_posix(): path for path in sorted(DLRUN.rglob("*.py"))}


# ---- imports ------------------------------------------------------------------------------------------

def test_import_linter_contracts_are_kept():
    """`lint-imports` (the console script next to this Python) on the contracts in pyproject.toml.

    A process of its own rather than importlinter's Python API: called in-process after Keras
    had been imported (tests/spec/test_catalog.py), the API broke pytest's output capture
    ("I/O operation on closed file"). The process takes well under a second."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.is_file(), f"{lint_imports} is missing: install the dev extra (import-linter)"
    proc = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b[1-9]\d* kept, 0 broken", proc.stdout), proc.stdout


def test_no_import_cycle_between_dlrun_modules():
    import grimp  # installed with import-linter (the dev extra)

    graph = grimp.build_graph("dlrun", cache_dir=None)
    assert len(graph.modules) > 30  # the whole package was found, not an empty graph
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(f"{importer} -> {imported}, and back: {' -> '.join(back)}")
    assert cycles == []


# ---- size ---------------------------------------------------------------------------------------------

def _is_command(function: ast.FunctionDef) -> bool:
    """Decorated with `@app.command()` (with or without arguments)."""
    for decorator in function.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (isinstance(call, ast.Attribute) and call.attr == "command" and isinstance(call.value, ast.Name)
                and call.value.id == "app"):
            return True
    return False


def _body_lines(function: ast.FunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring does not count
    if not body:
        return 0
    return body[-1].end_lineno - body[0].lineno + 1


def test_every_cli_command_body_is_at_most_15_lines():
    tree = ast.parse((DLRUN / "cli.py").read_text(encoding="utf-8"))
    commands = {node.name: _body_lines(node) for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef) and _is_command(node)}
    # the commands README.md lists; a rename that hides one from this check fails here
    assert {"validate", "train", "kfold", "evaluate", "predict", "runs", "show", "compare", "schema"} <= set(commands)
    too_long = {name: lines for name, lines in commands.items() if lines > MAX_COMMAND_BODY_LINES}
    assert too_long == {}, f"command bodies over {MAX_COMMAND_BODY_LINES} lines: {too_long}"


def test_no_module_in_dlrun_exceeds_400_lines():
    modules = _modules()
    assert len(modules) > 30
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules.items()}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert too_long == {}, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


# ---- the run directory's file names have one owner ----------------------------------------------------

def _docstring_nodes(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str):
            found.add(id(node.body[0].value))
    return found


def _string_literals(path: Path) -> list[str]:
    """Every string constant of a module (f-string pieces included), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _names_file(literal: str, name: str) -> bool:
    """The literal is the file name, or a path with it as one component ("folds/01/run.json");
    a sentence that mentions it ("no run.json here") is not a name."""
    return name in literal.split("/")


def test_the_guard_covers_every_file_a_run_holds():
    for name in ("run.json", "resume.json", "report.json", "best.json", "best.keras", "manifest.json",
                 "trials.csv", "study.journal", "error.log", "model.keras"):
        assert name in RUN_FILES, name


def test_each_run_file_name_is_spelled_only_in_runs_artifacts():
    literals = {module: _string_literals(path) for module, path in _modules().items()}
    owners = {name: sorted(module for module, strings in literals.items()
                           if any(_names_file(s, name) for s in strings))
              for name in RUN_FILES}
    assert owners == {name: ["dlrun/runs/artifacts.py"] for name in RUN_FILES}


# ---- README: the "Sections" list names real spec fields ----------------------------------------------

def _readme_sections() -> list[tuple[list[str], str]]:
    """(section names, text) for each bullet of README's "### Sections" that starts with `name`: ..."""
    text = README.read_text(encoding="utf-8")
    assert "### Sections" in text, "README.md has no '### Sections' heading"
    block = re.split(r"\n#{1,3} ", text.split("### Sections", 1)[1], maxsplit=1)[0]
    bullets = re.split(r"\n- ", "\n" + block.strip())[1:]
    sections = []
    for bullet in bullets:
        head = re.match(r"((?:`\w+`(?:, | and )?)+):\s", bullet)
        if head is None:
            continue  # e.g. "`extends: base.yaml` deep-merges …": loader syntax, not a section
        sections.append((re.findall(r"`(\w+)`", head.group(1)), bullet[head.end():]))
    return sections


# backticked words of the Sections list that are not spec keys: Keras's `fit` method ("false feeds
# NumPy arrays to `fit` as a hand-written script does")
PROSE_NAMES = {"fit"}


def _keys_named(text: str) -> list[str]:
    """The backticked names a README bullet presents as keys.

    Alternatives joined by `|` are values (`standard | minmax | none`), `{…}` spans are examples
    and dotted or punctuated names (`keras.layers`, `*`) are not keys; `layers:` and `shared: NODE`
    name the keys `layers` and `shared`. Words in PROSE_NAMES are named in a sentence, not as keys.
    """
    text = re.sub(r"`?[\w.-]+`?(?:\s*\|\s*`?[\w.-]+`?)+", " ", text)  # drop value alternatives
    keys = []
    for token in re.findall(r"`([^`]+)`", text):
        if token.startswith("{"):
            continue
        key = token.split(":", 1)[0].strip()
        if re.fullmatch(r"[a-z_][a-z0-9_]*", key) and key not in PROSE_NAMES:
            keys.append(key)
    return keys


def _models_in(annotation) -> list[type]:
    """The pydantic models an annotation holds: through Optional/Union, Annotated, list and dict."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _fields_under(annotation) -> set[str]:
    """Every field name (and alias) of every model reachable from an annotation: every form of a
    union and every nested model, so a key of any form of a section counts as one of its fields."""
    seen: set[type] = set()
    names: set[str] = set()
    todo = _models_in(annotation)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            if info.alias:
                names.add(info.alias)
            todo += _models_in(info.annotation)
    return names


def _free_form_keys(section: str) -> set[str]:
    """Keys a section takes that its models leave free-form and the spec checks by hand: the keys
    of a graph node (`name`, `inputs`, `shared`) while ModelSpec.nodes is a list of plain mappings."""
    if section != "model":
        return set()
    from dlrun.spec import checks

    return set(getattr(checks, "NODE_KEYS", ()))


def test_readme_sections_name_only_fields_the_spec_models_have():
    from dlrun.spec.models import ExperimentSpec

    sections = _readme_sections()
    listed = {name for names, _ in sections for name in names}
    assert {"data", "split", "model", "optimizer", "training", "callbacks"} <= listed, listed
    top_level = set(ExperimentSpec.model_fields)
    assert listed <= top_level, f"README sections that are not spec fields: {sorted(listed - top_level)}"
    missing, checked = [], 0
    for names, text in sections:
        fields = set()
        for name in names:
            fields |= _fields_under(ExperimentSpec.model_fields[name].annotation) | _free_form_keys(name)
        for key in _keys_named(text):
            checked += 1
            if key not in fields:
                missing.append(f"{'/'.join(names)}: `{key}`")
    assert checked >= 30, f"only {checked} names were read from README's Sections; did its format change?"
    assert missing == [], f"README names fields the spec models do not have: {missing}"
