"""The Keras catalog dlrun validates against without importing Keras, and its did-you-mean.

The catalog test imports Keras (once per session): every name the shipped catalog knows
must exist in the installed Keras, or `dlrun validate` would accept specs that cannot build.
"""

from __future__ import annotations

import inspect

import pytest

from dlrun.spec.catalog import catalog, check_named, suggest, unknown_name

CAT = catalog()


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _init_params(cls) -> tuple[set[str], set[str]]:
    """All named __init__ parameters over the class hierarchy, and the class's own required ones."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        if "__init__" in vars(klass):
            names.update(p for p in inspect.signature(klass.__init__).parameters if p != "self")
    own = inspect.signature(cls.__init__).parameters.values()
    required = {p.name for p in list(own)[1:] if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, required


# --- the catalog matches the installed Keras ----------------------------------------------


def test_catalog_has_every_section():
    for section in ("layers", "optimizers", "losses", "metrics", "activations",
                    "initializers", "regularizers", "constraints"):
        assert CAT[section], section


def test_every_catalog_layer_is_a_keras_layer_class(keras):
    missing = [name for name in CAT["layers"]
               if not (inspect.isclass(getattr(keras.layers, name, None))
                       and issubclass(getattr(keras.layers, name), keras.layers.Layer))]
    assert not missing, f"not in keras.layers: {missing}"


def test_every_catalog_layer_argument_is_accepted_by_the_layer(keras):
    wrong = []
    for name, entry in CAT["layers"].items():
        params, required = _init_params(getattr(keras.layers, name))
        unknown = [a for a in entry["args"] if a not in params and a not in ("input_dim", "input_shape")]
        if unknown:
            wrong.append((name, unknown))
        if not set(entry["required"]) <= required:
            wrong.append((name, "required", sorted(set(entry["required"]) - required)))
    assert not wrong, wrong


def test_every_catalog_optimizer_is_a_keras_optimizer(keras):
    wrong = []
    for name, entry in CAT["optimizers"].items():
        try:
            made = keras.optimizers.get(name)
        except ValueError as exc:
            wrong.append((name, str(exc)))
            continue
        if type(made).__name__ != entry["class"]:
            wrong.append((name, type(made).__name__, entry["class"]))
        params, _ = _init_params(type(made))
        unknown = [a for a in entry["args"] if a not in params]
        if unknown:
            wrong.append((name, unknown))
    assert not wrong, wrong


@pytest.mark.parametrize("section, module", [("losses", "losses"), ("metrics", "metrics"),
                                             ("activations", "activations")])
def test_every_catalog_name_resolves_in_keras(keras, section, module):
    get = getattr(keras, module).get
    wrong = []
    for name in CAT[section]:
        try:
            if get(name) is None:
                wrong.append(name)
        except (ValueError, TypeError) as exc:
            wrong.append((name, str(exc)))
    assert not wrong, f"{section} unknown to keras.{module}.get: {wrong}"


@pytest.mark.parametrize("section", ["initializers", "regularizers", "constraints"])
def test_every_catalog_object_name_exists_in_keras(keras, section):
    module = getattr(keras, section)
    assert not [n for n in CAT[section] if not hasattr(module, n)]


# --- did-you-mean -------------------------------------------------------------------------


@pytest.mark.parametrize("word, section, expected", [
    ("Dropot", "layers", "Dropout"),
    ("Dens", "layers", "Dense"),
    ("Flaten", "layers", "Flatten"),
    ("Embeding", "layers", "Embedding"),
    ("Concatentate", "layers", "Concatenate"),
    ("LTSM", "layers", "LSTM"),
    ("BatchNorm", "layers", "BatchNormalization"),
    ("adma", "optimizers", "adam"),
    ("rmsprob", "optimizers", "rmsprop"),
    ("sgdd", "optimizers", "sgd"),
    ("rleu", "activations", "relu"),
    ("softmx", "activations", "softmax"),
    ("tahn", "activations", "tanh"),
    ("sigmod", "activations", "sigmoid"),
    ("categorical_crossentropi", "losses", "categorical_crossentropy"),
    ("acuracy", "metrics", "accuracy"),
])
def test_suggest_finds_the_name_meant_by_a_typo(word, section, expected):
    assert suggest(word, list(CAT[section])) == f" — did you mean '{expected}'?"


@pytest.mark.parametrize("word, section, expected", [
    ("dense", "layers", "Dense"),
    ("lstm", "layers", "LSTM"),
    ("Conv2d", "layers", "Conv2D"),
    ("Adam", "optimizers", "adam"),
])
def test_suggest_matches_a_name_written_in_the_wrong_case(word, section, expected):
    assert suggest(word, list(CAT[section])) == f" — did you mean '{expected}'?"


def test_suggest_counts_a_swap_of_neighbours_as_one_edit():
    assert suggest("untis", ["units", "activation", "use_bias"]) == " — did you mean 'units'?"
    assert suggest("epochz", ["epochs", "batch_size", "device", "shuffle"]) == " — did you mean 'epochs'?"


@pytest.mark.parametrize("word", ["zzzzzz", "Qwerty", "xyz"])
def test_suggest_is_silent_when_nothing_is_close(word):
    assert suggest(word, list(CAT["layers"])) == ""
    assert suggest(word, list(CAT["optimizers"])) == ""


def test_suggest_with_no_choices_is_silent():
    assert suggest("units", []) == ""


def test_suggest_does_not_propose_an_unrelated_one_letter_name():
    assert suggest("a", ["b", "c"]) == ""


def test_unknown_name_without_a_close_match_lists_known_names():
    message = unknown_name("optimizer", "zzz", list(CAT["optimizers"]))
    assert message.startswith("unknown optimizer 'zzz' (known: ")
    assert "adam" in message and "rmsprop" in message


def test_unknown_optimizer_listing_shows_sgd():
    assert "sgd" in unknown_name("optimizer", "zzz", list(CAT["optimizers"]))


def test_check_named_accepts_known_and_refuses_unknown_names():
    assert check_named("optimizer", "adam") == "adam"
    assert check_named("loss", "mse") == "mse"
    with pytest.raises(ValueError, match="did you mean 'accuracy'"):
        check_named("metric", "accuarcy")
