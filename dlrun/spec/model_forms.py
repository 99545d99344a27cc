"""The model section in its two forms: a Sequential `layers:` list, or a graph of named
`inputs:`, `nodes:` and `outputs:`.

`model:` in YAML has no form tag: the keys given decide it (`layers:` → Sequential, else
graph), and giving keys of both forms is an error. A layer is always written as a one-key
mapping `ClassName: {args}`; in a graph node it sits beside the node's reserved keys.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_serializer, model_validator

from dlrun.spec.catalog import check_loss, check_metrics, suggest
from dlrun.spec.section import Section, one_of_forms

_LAYER_ITEM = "A one-key mapping: the keras.layers class name, then its arguments, e.g. {Dense: {units: 64, activation: relu}}."
MODEL_CLASS_HELP = ("A keras.Model subclass from an `imports:` module that the built graph is made as "
                    "(cls(inputs=..., outputs=..., name=...)), e.g. one whose train_step is a custom training loop. "
                    "It must be registered (@keras.saving.register_keras_serializable) so model.keras loads again. "
                    "train_step(self, data) runs on backend tensorflow; on jax, write train_step(self, state, data). "
                    "Default: keras.Model.")


class InputSpec(Section):
    """One named input of a graph model."""

    columns: list[str] | None = Field(None, description="Feature columns fed to this input ('*' globs allowed). "
                                                         "Default: all features (only when there is one input).")
    shape: list[Annotated[int, Field(ge=1)]] | None = Field(None, description="Per-sample shape; default: the number of columns.")
    dtype: Literal["float32", "int32", "int64"] = Field("float32", description="int32 for token ids fed to an Embedding.")


class GraphOutputSpec(Section):
    """One output head of a graph model, with its own target, loss and metrics."""

    node: str = Field(description="The node whose result is this output.")
    target: str | None = Field(None, description="The target column it predicts. Default: the only target.")
    loss: str | None = Field(None, description="Loss for this output. Default follows the task of its target.")
    metrics: list[str] | None = Field(None, description="Metrics for this output. Default follows the task.")
    loss_weight: float = Field(1.0, ge=0.0, description="Weight of this output's loss in the total.")

    _loss_known = field_validator("loss")(check_loss)
    _metrics_known = field_validator("metrics")(check_metrics)


class NodeSpec(BaseModel):
    """One node of a graph model: its name, what it reads, and one layer (or `shared:` another node's)."""

    # The layer is written as one more key beside the reserved ones (`Dense: {units: 8}`), so
    # other keys are allowed here; `_well_formed` makes sure there is exactly one of them.
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="The node's name, unique among the inputs and nodes; later nodes and outputs use it.")
    inputs: str | list[str] = Field(description="The input or earlier node it reads, or a list of them.")
    shared: str | None = Field(None, description="An earlier node whose layer (and weights) this node reuses; "
                                                 "then the node names no layer of its own.")

    @model_validator(mode="before")
    @classmethod
    def _well_formed(cls, data: Any) -> Any:
        if isinstance(data, NodeSpec):
            return data
        problems = NodeParts.of(data).problems() if isinstance(data, Mapping) else [NOT_A_NODE]
        if problems:
            # The same message the free-form check reports at the same place, so it is shown once.
            raise ValueError(problems[0])
        return data

    # A name that is not text gets the message the free-form check gives it, at the same place.
    @field_validator("inputs", mode="before")
    @classmethod
    def _feeds_are_names(cls, value: Any) -> Any:
        for feed in feed_list(value) or []:
            if not isinstance(feed, str):
                raise ValueError(unknown_feed(feed))
        return value

    @field_validator("shared", mode="before")
    @classmethod
    def _shared_is_a_name(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError(unknown_shared(value))
        return value

    @model_serializer(mode="wrap")
    def _as_written(self, handler) -> dict[str, Any]:
        out = handler(self)
        if self.shared is None:  # written back the way users write nodes: no `shared: null`
            out.pop("shared", None)
        return out

    @property
    def feeds(self) -> list[str]:
        """The names this node reads, as a list even when `inputs:` names one."""
        return feed_list(self.inputs) or []

    @property
    def layer(self) -> tuple[str, dict[str, Any]] | None:
        """(class name, arguments) of the node's own layer; None for a `shared:` node.

        Example:
            >>> NodeSpec.model_validate({"name": "h", "inputs": "a", "Dense": {"units": 8}}).layer
            ('Dense', {'units': 8})
        """
        entry = layer_entry(self.model_extra or {})
        return None if entry is None else (entry[0], entry[1] or {})


NODE_KEYS = tuple(NodeSpec.model_fields)  # a node's reserved keys; any other key names its layer
NOT_A_NODE = "each node is a mapping with name, inputs and one layer"


class NodeParts(NamedTuple):
    """A graph node as written, before validation: the values of its reserved keys and the
    keys that name layers. The free-form check and the output-head check read raw nodes
    through this, so they agree with NodeSpec on which keys are reserved."""

    name: Any
    inputs: Any
    shared: Any
    layer_keys: tuple[str, ...]

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> "NodeParts":
        return cls(**{key: item.get(key) for key in NODE_KEYS},
                   layer_keys=tuple(key for key in item if key not in NODE_KEYS))

    @property
    def feeds(self) -> list | None:
        return feed_list(self.inputs)

    def problems(self) -> list[str]:
        """What keeps this node from being a NodeSpec, in the order a user would fix it."""
        found = []
        if not isinstance(self.name, str) or not self.name:
            found.append("a node needs `name:`")
        if self.feeds is None:
            found.append("a node needs `inputs:` — the names of inputs or earlier nodes it reads")
        if self.shared is not None:
            if self.layer_keys:
                found.append("a node with `shared:` reuses another node's layer and names no layer of its own")
        elif len(self.layer_keys) != 1:
            what = ", ".join(self.layer_keys) if self.layer_keys else "none"
            found.append(f"a node holds exactly one layer (e.g. `Dense: {{units: 8}}`); found: {what}")
        return found


def feed_list(inputs: Any) -> list | None:
    """`inputs:` as a list (one name becomes a list of one); None when it names nothing."""
    feeds = [inputs] if isinstance(inputs, str) else inputs
    return feeds if isinstance(feeds, list) and feeds else None


def unknown_feed(feed: Any, known: list[str] = ()) -> str:
    """The message for a node input that names no input or earlier node."""
    hint = suggest(feed, known) if isinstance(feed, str) else ""
    return f"'{feed}' is not an input or an earlier node{hint}"


def unknown_shared(shared: Any, known: list[str] = ()) -> str:
    """The message for a `shared:` that names no earlier node."""
    hint = suggest(shared, known) if isinstance(shared, str) else ""
    return f"'{shared}' is not an earlier node{hint}"


def layer_entry(item: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The `ClassName: args` pair of a Sequential layer item or a graph node (its one key that
    is not reserved), or None when there is not exactly one such key.

    Example:
        >>> layer_entry({"name": "h", "inputs": "a", "Dense": {"units": 8}})
        ('Dense', {'units': 8})
    """
    keys = [key for key in item if key not in NODE_KEYS]
    return (keys[0], item[keys[0]]) if len(keys) == 1 else None


class SequentialModel(Section):
    """A Sequential model: a list of layers, each fed by the one before."""

    layers: list[dict[str, dict[str, Any] | None]] = Field(description="Sequential model. Each item: " + _LAYER_ITEM)
    model_class: str | None = Field(None, description=MODEL_CLASS_HELP)

    @model_validator(mode="after")
    def _not_empty(self) -> "SequentialModel":
        if not self.layers:
            raise ValueError("`layers:` is empty — list at least the output layer")
        return self

    is_graph: ClassVar[bool] = False
    # The graph form's keys read as absent, for code that serves both forms (read-only: class values).
    inputs: ClassVar[None] = None
    nodes: ClassVar[None] = None
    outputs: ClassVar[None] = None


class GraphModel(Section):
    """A graph (functional) model: named inputs, nodes that each hold one layer, and output heads."""

    inputs: dict[str, InputSpec] = Field(description="Graph model: named inputs.")
    nodes: list[NodeSpec] = Field(description="Graph model: each node has `name`, `inputs` (names of inputs or earlier "
                                              "nodes), and either one layer (e.g. `Dense: {units: 8}`) or "
                                              "`shared: NODE` to reuse another node's layer.")
    outputs: list[GraphOutputSpec] = Field(description="Graph model: output heads.")
    model_class: str | None = Field(None, description=MODEL_CLASS_HELP)

    is_graph: ClassVar[bool] = True
    layers: ClassVar[None] = None  # the Sequential form's key reads as absent, for code that serves both forms


COMMON_KEYS = ("model_class",)  # keys of both forms, which decide neither
SEQUENTIAL_KEYS = tuple(key for key in SequentialModel.model_fields if key not in COMMON_KEYS)
GRAPH_KEYS = tuple(key for key in GraphModel.model_fields if key not in COMMON_KEYS)
FORM_KEYS = (*SEQUENTIAL_KEYS, *GRAPH_KEYS)
NEEDS_A_FORM = "a model needs `layers:` (Sequential) or all of `inputs:`, `nodes:` and `outputs:` (graph)"


class _NoForm(Section):
    """Where a model goes whose keys make no form because some are unknown (a misspelt
    `layers:`, say): only the unknown keys are reported, with a did-you-mean."""

    layers: Any = Field(None, description="See SequentialModel.")
    inputs: Any = Field(None, description="See GraphModel.")
    nodes: Any = Field(None, description="See GraphModel.")
    outputs: Any = Field(None, description="See GraphModel.")
    model_class: Any = Field(None, description="See SequentialModel.")

    @model_validator(mode="after")
    def _never_valid(self) -> "_NoForm":  # only reached without unknown keys, which _one_form prevents
        raise ValueError(NEEDS_A_FORM)


def _one_form(data: Any) -> Any:
    """Check that the keys given make one form; a form key set to null counts as not given."""
    if not isinstance(data, dict):
        return data
    data = {key: value for key, value in data.items() if value is not None or key not in FORM_KEYS}
    graph = [key in data for key in GRAPH_KEYS]
    if "layers" in data and any(graph):
        raise ValueError("give either `layers:` (Sequential) or `inputs:`/`nodes:`/`outputs:` (graph), not both")
    if "layers" not in data and not all(graph) and set(data) <= {*FORM_KEYS, *COMMON_KEYS}:
        raise ValueError(NEEDS_A_FORM)
    return data


def _model_form(data: Any) -> str | None:
    if isinstance(data, dict):
        if "layers" in data:
            return "sequential"
        return "graph" if all(key in data for key in GRAPH_KEYS) else "no_form"
    if isinstance(data, (SequentialModel, GraphModel)):
        return "graph" if data.is_graph else "sequential"
    return None


MODEL_FORMS = {"sequential": SequentialModel, "graph": GraphModel, "no_form": _NoForm}
MODEL_TAGS = tuple(MODEL_FORMS)

# The model section: a SequentialModel or a GraphModel, chosen by the keys given.
ModelSpec = Annotated[one_of_forms("ModelSpec", MODEL_FORMS, _model_form, hidden="no_form"), BeforeValidator(_one_form)]
