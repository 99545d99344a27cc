"""`dlrun.spec.load_spec`: defaults, `extends:`, `--set` overrides and safe YAML, at library level."""

from __future__ import annotations

import pytest

from dlrun.errors import SpecError
from dlrun.spec import load_spec
from tests.support import only_problem

MINIMAL = """
    data:
      source: sklearn:digits
    model:
      layers:
        - Dense: {units: 10, activation: softmax}
"""

BASE = """
    seed: 7
    data:
      source: sklearn:digits
      scale: minmax
      impute: mean
    model:
      layers:
        - Dense: {units: 32, activation: relu}
        - Dense: {units: 10, activation: softmax}
    training: {epochs: 4, batch_size: 16}
"""


# --- a valid spec -----------------------------------------------------------------------


def test_minimal_spec_loads_with_every_default_filled(write_spec):
    loaded = load_spec(write_spec(MINIMAL, "digits.yaml"))
    spec = loaded.spec
    assert spec.data.source == "sklearn:digits"
    assert (spec.data.scale, spec.data.impute, spec.data.task) == ("standard", "median", "auto")
    assert (spec.split.protocol, spec.split.test, spec.split.validation, spec.split.shuffle) == ("holdout", 0.2, 0.2, True)
    assert spec.split.stratify is None
    assert (spec.optimizer.name, spec.optimizer.learning_rate, spec.optimizer.schedule) == ("adam", 0.001, None)
    assert (spec.training.epochs, spec.training.batch_size, spec.training.device) == (10, 32, "auto")
    assert spec.seed == 42
    assert spec.loss is None and spec.metrics is None
    assert spec.callbacks.early_stopping is None and spec.callbacks.terminate_on_nan is True
    assert spec.output.runs_dir == "runs"
    assert spec.model.layers == [{"Dense": {"units": 10, "activation": "softmax"}}]


def test_default_name_comes_from_the_file_stem(write_spec):
    assert load_spec(write_spec(MINIMAL, "digits_small.yaml")).spec.name == "digits_small"


def test_default_name_replaces_characters_a_run_name_cannot_hold(write_spec):
    assert load_spec(write_spec(MINIMAL, "my exp!.yaml")).spec.name == "my-exp"


def test_explicit_name_wins_over_the_file_stem(write_spec):
    path = write_spec("name: chosen\n" + MINIMAL.replace("\n    ", "\n"), "stem.yaml")
    assert load_spec(path).spec.name == "chosen"


def test_default_name_from_a_non_ascii_stem_is_a_usable_run_name(write_spec):
    from dlrun.spec.models import NAME_RE

    loaded = load_spec(write_spec(MINIMAL, "résumé.yaml"))
    assert loaded.spec.name == "r-sum"  # non-ASCII letters become '-', runs of them collapse at the ends
    assert NAME_RE.match(loaded.spec.name)
    assert load_spec(write_spec(MINIMAL, "日本.yaml")).spec.name == "experiment"  # nothing usable left


def test_relative_spec_path_is_resolved_and_kept_as_shown(write_spec, tmp_path, monkeypatch):
    write_spec(MINIMAL, "rel.yaml")
    monkeypatch.chdir(tmp_path)
    loaded = load_spec("rel.yaml")
    assert loaded.shown == "rel.yaml"
    assert loaded.path == (tmp_path / "rel.yaml").resolve()
    assert loaded.base_dir == tmp_path.resolve()


# --- extends --------------------------------------------------------------------------


def test_extends_deep_merges_child_over_parent_and_keeps_the_rest(write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("""
        extends: base.yaml
        data:
          scale: standard
        training: {epochs: 6}
    """, "child.yaml")
    spec = load_spec(child).spec
    assert spec.data.scale == "standard"            # overridden by the child
    assert spec.data.impute == "mean"               # kept from the parent, same mapping
    assert spec.data.source == "sklearn:digits"
    assert spec.training.epochs == 6                # overridden
    assert spec.training.batch_size == 16           # kept
    assert spec.seed == 7
    assert len(spec.model.layers) == 2
    assert spec.name == "child"                     # default name: the file given, not the parent


def test_extends_is_relative_to_the_spec_file_not_the_working_directory(write_spec, tmp_path, monkeypatch):
    write_spec(BASE, "bases/base.yaml")
    child = write_spec("extends: ../bases/base.yaml\ntraining: {batch_size: 64}\n", "specs/child.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(child).spec
    assert (spec.training.epochs, spec.training.batch_size) == (4, 64)


def test_extends_follows_a_chain_of_two(write_spec):
    write_spec(BASE, "base.yaml")
    write_spec("extends: base.yaml\ndata: {scale: none}\ntraining: {epochs: 6}\n", "mid.yaml")
    child = write_spec("extends: mid.yaml\ntraining: {batch_size: 64}\n", "child.yaml")
    spec = load_spec(child).spec
    assert spec.data.scale == "none"                 # from mid
    assert spec.data.impute == "mean"                # from base
    assert spec.training.epochs == 6                 # from mid
    assert spec.training.batch_size == 64            # from child
    assert spec.seed == 7                            # from base


def test_extends_replaces_lists_instead_of_merging_them(write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("""
        extends: base.yaml
        model:
          layers:
            - Dense: {units: 10, activation: softmax}
    """, "child.yaml")
    assert load_spec(child).spec.model.layers == [{"Dense": {"units": 10, "activation": "softmax"}}]


def test_extends_key_is_not_left_in_the_merged_data(write_spec):
    write_spec(BASE, "base.yaml")
    loaded = load_spec(write_spec("extends: base.yaml\n", "child.yaml"))
    assert "extends" not in loaded.data


def test_missing_extends_file_is_an_error_naming_it(write_spec):
    child = write_spec("training: {epochs: 3}\nextends: no_such_base.yaml\n", "child.yaml")
    with pytest.raises(SpecError) as excinfo:
        load_spec(child)
    problem = only_problem(excinfo)
    assert problem.path == "extends"
    assert problem.file == str(child)
    assert (problem.line, problem.col) == (2, 1)
    assert "no_such_base.yaml" in problem.message and "not found" in problem.message


def test_extends_cycle_is_an_error(write_spec):
    write_spec("extends: b.yaml\ndata: {source: sklearn:iris}\n", "a.yaml")
    write_spec("extends: a.yaml\n", "b.yaml")
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec("extends: a.yaml\n", "start.yaml"))
    problem = only_problem(excinfo)
    assert problem.path == "extends"
    assert "cycle" in problem.message


def test_a_spec_extending_itself_is_a_cycle(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec("extends: self.yaml\n", "self.yaml"))
    assert "cycle" in only_problem(excinfo).message


def test_a_problem_from_the_parent_points_into_the_parent_file(write_spec):
    parent = write_spec(BASE.replace("epochs: 4", "epochs: abc"), "base.yaml")
    child = write_spec("extends: base.yaml\ndata: {scale: standard}\n", "child.yaml")
    with pytest.raises(SpecError) as excinfo:
        load_spec(child)
    problem = only_problem(excinfo)
    assert problem.path == "training.epochs"
    assert problem.file.endswith("base.yaml") and problem.file != str(child)
    assert problem.line == parent.read_text().splitlines().index("training: {epochs: abc, batch_size: 16}") + 1


# --- --set overrides -------------------------------------------------------------------


def test_set_value_is_parsed_as_yaml_so_numbers_become_int(write_spec):
    loaded = load_spec(write_spec(MINIMAL), ["training.epochs=3"])
    assert loaded.spec.training.epochs == 3
    assert loaded.data["training"]["epochs"] == 3 and isinstance(loaded.data["training"]["epochs"], int)


def test_set_creates_missing_nested_mappings(write_spec):
    loaded = load_spec(write_spec(MINIMAL), ["callbacks.early_stopping.patience=2"])
    stopping = loaded.spec.callbacks.early_stopping
    assert stopping is not None
    assert stopping.patience == 2
    assert stopping.monitor == "val_loss"            # the rest of the section gets its defaults


def test_set_indexes_into_lists_by_number(write_spec):
    loaded = load_spec(write_spec(BASE), ["model.layers.0.Dense.units=5"])
    assert loaded.spec.model.layers[0] == {"Dense": {"units": 5, "activation": "relu"}}
    assert loaded.spec.model.layers[1] == {"Dense": {"units": 10, "activation": "softmax"}}


def test_set_applies_after_extends(write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("extends: base.yaml\ntraining: {epochs: 6}\n", "child.yaml")
    assert load_spec(child, ["training.epochs=2"]).spec.training.epochs == 2


def test_later_set_wins_over_earlier_set(write_spec):
    assert load_spec(write_spec(MINIMAL), ["training.epochs=1", "training.epochs=2"]).spec.training.epochs == 2


def test_unknown_key_in_set_suggests_the_closest_field(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(MINIMAL), ["training.epochz=3"])
    problem = only_problem(excinfo)
    assert problem.file == "--set"
    assert problem.path == "training.epochz"
    assert "did you mean 'epochs'?" in problem.message


@pytest.mark.parametrize("text", ["foo", "=3", "training..epochs=3"])
def test_set_without_key_path_and_value_is_an_error(write_spec, text):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(MINIMAL), [text])
    problem = only_problem(excinfo)
    assert problem.file == "--set"
    assert "KEY.PATH=VALUE" in problem.message


def test_set_list_index_past_the_end_is_an_error(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), ["model.layers.5.Dense.units=5"])
    problem = only_problem(excinfo)
    assert problem.path == "model.layers.5"
    assert "the list has 2" in problem.message


def test_set_value_of_the_wrong_type_is_reported_at_set(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(MINIMAL), ["training.epochs=three"])
    problem = only_problem(excinfo)
    assert (problem.file, problem.path) == ("--set", "training.epochs")
    assert "'three'" in problem.message


def test_set_unknown_layer_argument_is_checked_against_the_catalog(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), ["model.layers.0.Dense.untis=5"])
    problem = only_problem(excinfo)
    assert problem.path == "model.layers[0].Dense.untis"
    assert "did you mean 'units'?" in problem.message


# --- YAML safety and shape ----------------------------------------------------------------


def test_duplicate_key_is_an_error_with_its_line(write_spec):
    path = write_spec("""
        data:
          source: sklearn:digits
          scale: minmax
          scale: standard
        model:
          layers:
            - Dense: {units: 10}
    """)
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    problem = only_problem(excinfo)
    assert (problem.line, problem.col) == (4, 3)
    assert problem.path == "data.scale"
    assert "duplicate key" in problem.message


def test_duplicate_top_level_key_is_an_error(write_spec):
    path = write_spec(MINIMAL + "    seed: 1\n    seed: 2\n")
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    problem = only_problem(excinfo)
    assert (problem.path, problem.line) == ("seed", 7)


def test_python_tag_on_a_scalar_is_refused_as_malformed_yaml(write_spec, tmp_path):
    marker = tmp_path / "executed"
    path = write_spec(f'name: !!python/object/apply:os.system "touch {marker}"\n' + MINIMAL.replace("\n    ", "\n"))
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    problem = only_problem(excinfo)
    assert problem.message.startswith("malformed YAML")
    assert (problem.line, problem.col) == (1, 7)
    assert not marker.exists()


def test_python_tag_is_never_executed(write_spec, tmp_path):
    marker = tmp_path / "executed"
    path = write_spec(MINIMAL + f'    metrics: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(SpecError):
        load_spec(path)
    assert not marker.exists()


def test_python_tag_on_a_sequence_is_refused_as_malformed_yaml(write_spec, tmp_path):
    marker = tmp_path / "executed"
    path = write_spec(MINIMAL + f'    metrics: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    problem = only_problem(excinfo)
    assert problem.message.startswith("malformed YAML")
    assert "Python object tags" in problem.message


def test_python_tag_on_a_mapping_is_refused_as_malformed_yaml(write_spec):
    path = write_spec(MINIMAL + "    optimizer: !!python/object:collections.OrderedDict {name: adam}\n")
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    assert only_problem(excinfo).message.startswith("malformed YAML")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_that_is_not_a_mapping_is_an_error(write_spec, text):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(text))
    problem = only_problem(excinfo)
    assert (problem.line, problem.col) == (1, 1)
    assert "must be a YAML mapping" in problem.message


def test_malformed_yaml_is_an_error_with_a_line(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec("data: {source: sklearn:digits\nmodel: x\n"))
    problem = only_problem(excinfo)
    assert problem.message.startswith("malformed YAML")
    assert problem.line is not None


def test_missing_spec_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(SpecError) as excinfo:
        load_spec(tmp_path / "absent.yaml")
    problem = only_problem(excinfo)
    assert problem.file == str(tmp_path / "absent.yaml")
    assert "file not found" in problem.message


def test_every_problem_is_collected_and_sorted_by_line(write_spec):
    path = write_spec("""
        seed: -1
        data:
          source: sklearn:digits
          scal: standard
        model:
          layers:
            - Dropot: {rate: 0.3}
        training: {epochs: 0}
    """)
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    problems = excinfo.value.problems
    assert [p.path for p in problems] == ["seed", "data.scal", "model.layers[0].Dropot", "training.epochs"]
    assert [p.line for p in problems] == [1, 4, 7, 8]
