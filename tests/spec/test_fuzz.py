"""Any spec, however mangled, either validates or raises SpecError with located problems.

Property-based (hypothesis): start from the bundled configs and mutate them at random —
delete keys, replace values with other types (huge, negative, NaN, text, lists, deeply
nested mappings), insert keys, resize lists, rename layers and keys — or splice random
text into their YAML. Whatever comes out, the library raises nothing but SpecError, and
every problem has a message and a place (file, and a line unless it is about the whole
file). A sample also goes through the real `dlrun validate`: exit 0 or 2, no traceback.

The runs are derandomized so the suite is repeatable; set DLRUN_FUZZ_EXPLORE=1 to draw new
examples (and DLRUN_FUZZ_EXAMPLES=N for more of them).

Inputs that once broke the loader are pinned one by one by the tests at the end (each is a
located SpecError now); the strategies keep steering around them so that the random search
spends its examples elsewhere: non-printable characters in raw text, recursive aliases,
integers of thousands of digits, nesting hundreds of levels deep, NUL or over-long `extends:`
names, over-long `imports:` names. The properties with hundreds of examples are marked slow.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError
from dlrun.spec.load import load_spec, validate_data
from dlrun.spec.yamlsource import parse_located
from tests.support import ANSI, CONFIGS

EXPLORE = os.environ.get("DLRUN_FUZZ_EXPLORE") == "1"
SCALE = int(os.environ.get("DLRUN_FUZZ_EXAMPLES", "0")) or None


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=SCALE or examples, deadline=None, database=None, derandomize=not EXPLORE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---- the valid starting points ---------------------------------------------------------------------

def _merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_bases() -> dict[str, dict]:
    bases = {name: yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
             for name in ("digits_mlp", "reviews_two_inputs", "diabetes_kfold")}
    child = yaml.safe_load((CONFIGS / "digits_sgd_step.yaml").read_text(encoding="utf-8"))
    parent = yaml.safe_load((CONFIGS / child.pop("extends")).read_text(encoding="utf-8"))
    bases["digits_sgd_step"] = _merge(parent, child)  # `extends` inlined
    return bases


BASES = _load_bases()
RAW_FILES = ("digits_mlp.yaml", "reviews_two_inputs.yaml", "diabetes_kfold.yaml", "digits_sgd_step.yaml")
FILE = "fuzz.yaml"


def dump(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, default_flow_style=False)


def check_outcome(run, text: str | None = None) -> str:
    """Call `run()`: it must succeed or raise SpecError whose every problem is located.
    Returns 'valid' or 'invalid' (any other exception fails the test)."""
    try:
        run()
    except SpecError as exc:
        assert exc.problems, "a SpecError with no problems"
        n_lines = max(1, len(text.splitlines())) if text is not None else None
        for problem in exc.problems:
            assert problem.message and problem.message.strip(), f"empty message: {problem!r}"
            assert problem.file, f"no file: {problem!r}"
            if problem.file != "--set":
                # a line, unless the problem is about the whole file (then it names no field)
                assert problem.line is not None or problem.path == "", f"no line: {problem!r}"
            if problem.line is not None:
                assert problem.line >= 1 and (problem.col is None or problem.col >= 1), repr(problem)
                if n_lines is not None and problem.file == FILE:
                    assert problem.line <= n_lines + 1, f"line past the end of the file: {problem!r}"
            assert "Traceback" not in str(problem)
        return "invalid"
    return "valid"


def validate_text(text: str) -> None:
    located = parse_located(text, FILE)
    validate_data(located, FILE)


@pytest.mark.parametrize("name", sorted(BASES))
def test_starting_specs_are_valid(name):
    text = dump(BASES[name])
    assert check_outcome(lambda: validate_text(text), text) == "valid"


# ---- strategies ------------------------------------------------------------------------------------

LAYER_NAMES = ["Dense", "Dropout", "Conv2D", "MaxPooling2D", "Flatten", "LSTM", "Embedding", "Concatenate", "Add",
               "GlobalAveragePooling1D", "BatchNormalization", "Activation", "Reshape", "Input", "Lambda", "dense",
               "Densse", "Layer", "Model", "Sequential"]
KNOWN_KEYS = ["name", "seed", "description", "imports", "data", "split", "model", "optimizer", "loss", "metrics",
              "training", "callbacks", "output", "extends", "source", "target", "features", "categorical",
              "passthrough", "scale", "impute", "reshape", "task", "num_words", "vectorize", "maxlen", "protocol",
              "test", "validation", "stratify", "shuffle", "folds", "repeats", "group", "final_model", "layers",
              "inputs", "nodes", "outputs", "node", "shared", "columns", "shape", "dtype", "loss_weight", "units",
              "activation", "rate", "kernel_regularizer", "kernel_initializer", "l2", "input_shape",
              "learning_rate", "schedule", "type", "drop", "epochs_drop", "decay", "warmup_epochs", "clipnorm",
              "momentum", "epochs", "batch_size", "device", "early_stopping", "model_checkpoint",
              "reduce_lr_on_plateau", "monitor", "patience", "mode", "factor", "runs_dir", "save_model", "plots"]
WORDS = ["", " ", "relu", "softmax", "sigmoid", "linear", "adam", "sgd", "rmsprop", "Dense", "val_loss",
         "val_accuracy", "loss", "accuracy", "mae", "mse", "binary_crossentropy", "sklearn:iris", "sklearn:nope",
         "csv:x.csv", "csv:", "npz:a.npz", "keras:mnist", "s3:bucket", "step", "cosine", "exponential",
         "time_based", "kfold", "holdout", "stratified_kfold", "group_kfold", "time_series", "auto", "gpu",
         "null", "~", "yes", "no", "on", "off", "1e5", "0x1F", "0o17", ".inf", ".nan", "-.inf", "2001-12-14",
         "!!python/object:os.system", "*alias", "&anchor", "{", "[", "- x", "a: b", "%", "@", "`", "#", "\\",
         "../../etc/passwd", "a" * 200, "ünïcödé", "名前", "😀", "\t", "\n", "\x00", "\x07", "\x1b[31m", "\ufeff"]

TEXT = st.text(max_size=20)
STRINGS = st.one_of(TEXT, st.sampled_from(WORDS), st.sampled_from(LAYER_NAMES), st.sampled_from(KNOWN_KEYS))
NUMBERS = st.one_of(
    st.integers(min_value=-2**64, max_value=2**64),
    st.sampled_from([0, 1, -1, 2, 3, 2**31 - 1, 2**31, 2**53 + 1, 2**63, 10**30, -10**30, 10**300,
                     1e308, -1e308, 1e-308, 5e-324, 0.5, -0.0, 1.0, 0.999999, 1.0000001,
                     float("inf"), float("-inf"), float("nan")]),
    st.floats(),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
COLLECTIONS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(STRINGS, inner, max_size=4)),
    max_leaves=10,
)


@st.composite
def deeply_nested(draw):
    """A mapping (or list, or a mix) nested many levels deep — but far below PyYAML's recursion limit."""
    depth = draw(st.integers(min_value=1, max_value=60))
    value = draw(SCALARS)
    for _ in range(depth):
        kind = draw(st.sampled_from(["dict", "list"]))
        value = {draw(STRINGS): value} if kind == "dict" else [value]
    return value


VALUES = st.one_of(SCALARS, COLLECTIONS, deeply_nested())


def _paths(node, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _at(node, path: tuple):
    for part in path:
        node = node[part]
    return node


def _typo(key: str, how: int) -> str:
    if not key:
        return "x"
    if how == 0:
        return key[:-1]
    if how == 1:
        return key + key[-1]
    if how == 2:
        return key.upper()
    if how == 3 and len(key) > 1:
        return key[1] + key[0] + key[2:]
    return key.replace("_", "-") if "_" in key else key + "_"


def _layer_slots(spec: dict) -> list[tuple[dict, str]]:
    """(mapping, key) for every layer name in the spec: Sequential items and graph nodes."""
    slots = []
    model = spec.get("model")
    if not isinstance(model, dict):
        return slots
    for group, skip in (("layers", ()), ("nodes", ("name", "inputs", "shared"))):
        items = model.get(group)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    slots += [(item, key) for key in item if key not in skip]
    return slots


def mutate(data, spec: dict) -> None:
    """One random mutation of `spec`, in place (the root stays a mapping)."""
    paths = _paths(spec)[1:]
    op = data.draw(st.sampled_from(["delete", "replace", "insert", "resize", "rename_layer", "rename_key"]), label="op")
    if op == "rename_layer":
        slots = _layer_slots(spec)
        if slots:
            holder, key = data.draw(st.sampled_from(slots), label="layer")
            new = data.draw(st.one_of(st.sampled_from(LAYER_NAMES), STRINGS), label="new layer name")
            value = holder.pop(key)
            holder[new] = value
            return
        op = "replace"
    if op == "resize":
        lists = [p for p in paths if isinstance(_at(spec, p), list)]
        if lists:
            items = _at(spec, data.draw(st.sampled_from(lists), label="list"))
            how = data.draw(st.sampled_from(["clear", "truncate", "duplicate", "append", "insert"]), label="how")
            if how == "clear":
                items.clear()
            elif how == "truncate" and items:
                del items[data.draw(st.integers(0, len(items) - 1), label="keep"):]
            elif how == "duplicate" and items:
                items.append(copy.deepcopy(items[data.draw(st.integers(0, len(items) - 1), label="item")]))
            else:
                where = data.draw(st.integers(0, len(items)), label="at") if how == "insert" else len(items)
                items.insert(where, data.draw(VALUES, label="new item"))
            return
        op = "replace"
    if op == "insert":
        mappings = [p for p in [(), *paths] if isinstance(_at(spec, p), dict)]
        node = _at(spec, data.draw(st.sampled_from(mappings), label="mapping"))
        node[data.draw(STRINGS, label="key")] = data.draw(VALUES, label="value")
        return
    if not paths:
        spec[data.draw(STRINGS, label="key")] = data.draw(VALUES, label="value")
        return
    path = data.draw(st.sampled_from(paths), label="path")
    parent, last = _at(spec, path[:-1]), path[-1]
    if op == "delete":
        del parent[last]
    elif op == "rename_key" and isinstance(parent, dict):
        new = data.draw(st.one_of(st.integers(0, 4).map(lambda how: _typo(last, how)), STRINGS), label="new key")
        parent[new] = parent.pop(last)
    else:
        parent[last] = data.draw(VALUES, label="value")


class _Drawer:
    """Lets `mutate` draw inside a composite strategy the way it would from st.data()."""

    def __init__(self, draw):
        self.draw = lambda strategy, label=None: draw(strategy, label=label)


@st.composite
def mutated_specs(draw):
    data = _Drawer(draw)
    spec = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)), label="base")])
    for _ in range(draw(st.integers(min_value=1, max_value=4), label="mutations")):
        mutate(data, spec)
    return spec


# ---- properties ------------------------------------------------------------------------------------

@pytest.mark.slow
@fuzz_settings(1200)
@given(spec=mutated_specs())
def test_mutated_spec_validates_or_raises_located_spec_error(spec):
    text = dump(spec)
    event(check_outcome(lambda: validate_text(text), text))


def steer_clear_of_known_bugs(spec: dict) -> dict:
    """Replace `extends:` names holding NUL or too long for the OS, and cut over-long `imports:` names:
    the pinned tests at the end cover those inputs."""
    names = spec.get("extends") if isinstance(spec.get("extends"), list) else [spec.get("extends")]
    if any(isinstance(n, str) and ("\x00" in n or len(n.encode()) > 200) for n in names):
        spec["extends"] = "no_such_parent.yaml"
    if isinstance(spec.get("imports"), list):
        spec["imports"] = [n[:200] if isinstance(n, str) else n for n in spec["imports"]]
    return spec


@pytest.mark.slow
@fuzz_settings(900)
@given(spec=mutated_specs().map(steer_clear_of_known_bugs))
def test_mutated_spec_in_a_file_validates_or_raises_located_spec_error(spec, spec_dir):
    path = spec_dir / FILE
    text = dump(spec)
    path.write_text(text, encoding="utf-8")
    event(check_outcome(lambda: load_spec(path), text))


SPLICE_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="&*") | \
    st.sampled_from(list("\t\n\r :{}[],-#!|>'\"%@`?\\"))
SNIPPETS = st.sampled_from([
    ": ", "- ", "  ", "\t", "{", "}", "[", "]", ",", "&a ", "*b", "!!python/object:os.system ", "!foo ", "!!str ",
    "!!binary ", "!!set ", "!!omap ", "<<: {x: 1}\n", "<<: ", "? ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! !x\n",
    "|\n", ">-\n", "\"", "'", "#", "@", "`", "~", "null", ".inf", "1e999", "1.0e+999", "0x" + "f" * 30,
    "9" * 40, "\ufeff", "\u2028", "\x85", "\xa0", "😀", "ünï", "=", "\\", "\r\n", "\n  ", "\n    - ",
])


@st.composite
def spliced_texts(draw):
    """A bundled config's YAML text with random characters, snippets, deletions and line shuffles spliced in."""
    name = draw(st.sampled_from(RAW_FILES), label="file")
    text = (CONFIGS / name).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=6), label="edits")):
        edit = draw(st.sampled_from(["insert", "snippet", "delete", "replace", "dup_line", "swap_lines", "indent"]))
        at = draw(st.integers(0, len(text)), label="at")
        if edit == "insert":
            text = text[:at] + draw(st.text(SPLICE_CHARS, min_size=1, max_size=20)) + text[at:]
        elif edit == "snippet":
            text = text[:at] + draw(SNIPPETS) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif edit == "replace" and at < len(text):
            text = text[:at] + draw(SPLICE_CHARS) + text[at + 1:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if edit == "dup_line":
                lines.insert(i, lines[i])
            elif edit == "swap_lines":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
            text = "\n".join(lines)
    return name, text


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory) -> Path:
    """A folder holding digits_mlp.yaml, so that digits_sgd_step's `extends:` resolves."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "digits_mlp.yaml").write_text((CONFIGS / "digits_mlp.yaml").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    return folder


@pytest.mark.slow
@fuzz_settings(400)
@given(case=spliced_texts())
def test_spliced_yaml_text_parses_or_raises_located_spec_error(case):
    _, text = case
    event(check_outcome(lambda: parse_located(text, FILE), text))


@pytest.mark.slow
@fuzz_settings(400)
@given(case=spliced_texts())
def test_spliced_yaml_file_loads_or_raises_located_spec_error(case, spec_dir):
    name, text = case
    path = spec_dir / f"spliced_{name}"
    path.write_bytes(text.encode("utf-8"))  # bytes: keep '\r' exactly as spliced
    event(check_outcome(lambda: load_spec(path), text))


SET_KEYS = sorted({".".join(str(p) for p in path) for spec in BASES.values() for path in _paths(spec)[1:]})


@st.composite
def overrides(draw):
    """`--set KEY=VALUE` texts: real keys, typos of them, or noise; values as YAML text or raw strings."""
    key = draw(st.one_of(st.sampled_from(SET_KEYS), st.sampled_from(SET_KEYS).map(lambda k: _typo(k, 0)),
                         st.sampled_from(SET_KEYS).map(lambda k: k + ".x"), TEXT), label="key")
    value = draw(st.one_of(VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()), TEXT),
                 label="value")
    sep = draw(st.sampled_from(["=", "=", "=", "", "==", " = "]), label="sep")
    return f"{key}{sep}{value}"


@pytest.mark.slow
@fuzz_settings(400)
@given(name=st.sampled_from(sorted(BASES)), sets=st.lists(overrides(), min_size=1, max_size=3))
def test_random_set_overrides_validate_or_raise_located_spec_error(name, sets, spec_dir):
    path = spec_dir / f"set_{name}.yaml"
    if not path.exists():
        path.write_text(dump(BASES[name]), encoding="utf-8")
    event(check_outcome(lambda: load_spec(path, sets)))


# what a message shows when an exception or an object leaked into it instead of words
PYTHON_REPR = re.compile(r"Traceback|<[\w.]+ object at 0x|<class '|\b\w+Error\(|\bException\(|\\x[0-9a-f]{2}")


@fuzz_settings(50)
@given(spec=mutated_specs())
def test_cli_validate_of_a_mutated_spec_exits_0_or_2_without_traceback(spec, spec_dir):
    path = spec_dir / "cli.yaml"
    path.write_text(dump(spec), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    output = ANSI.sub("", result.output or "")
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {result.exception!r}\n{output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    if result.exit_code == 2:
        assert "error:" in output and "problem" in output, output


# ---- inputs that once broke the loader, pinned one by one -------------------------------------------

VALID = dump(BASES["digits_mlp"])


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x0c", "\x1b", "\x7f", "\ufffe"])
def test_non_printable_character_raises_spec_error(char):
    text = VALID.replace("name: digits-mlp", f"name: digits-mlp{char}")
    with pytest.raises(SpecError):
        parse_located(text, FILE)


def test_recursive_alias_raises_spec_error():
    with pytest.raises(SpecError):
        parse_located("name: x\ndata: &d {source: 'sklearn:iris', again: *d}\n", FILE)


def test_integer_with_thousands_of_digits_raises_spec_error():
    with pytest.raises(SpecError):
        parse_located("training: {epochs: 1" + "0" * 5000 + "}\n", FILE)


def test_nesting_hundreds_of_levels_deep_raises_spec_error():
    with pytest.raises(SpecError):
        parse_located(VALID + "description: " + "[" * 500 + "]" * 500 + "\n", FILE)


def test_extends_with_a_nul_character_raises_spec_error(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text('extends: "a\\0b.yaml"\nname: child\n', encoding="utf-8")
    with pytest.raises(SpecError):
        load_spec(path)


def test_extends_with_an_overlong_name_raises_spec_error(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text(f"extends: {'a' * 300}.yaml\nname: child\n", encoding="utf-8")
    with pytest.raises(SpecError):
        load_spec(path)


def test_imports_with_an_overlong_module_name_is_a_located_spec_error(tmp_path):
    path = tmp_path / "spec.yaml"
    text = dump({**BASES["digits_mlp"], "imports": ["a" * 300]})
    path.write_text(text, encoding="utf-8")
    assert check_outcome(lambda: load_spec(path), text) == "invalid"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.path) == (str(path), "imports[0]")
    assert problem.line == text.splitlines().index("imports:") + 2  # the list item under `imports:`
    assert problem.col is not None and problem.col >= 1
    assert f"module '{'a' * 300}' is not found" in problem.message
    assert not PYTHON_REPR.search(problem.message), problem.message
