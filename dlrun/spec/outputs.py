"""OutputHead: one model output with its target, loss, metrics and loss weight.

The spec has two forms (a Sequential model's single output, a graph's `outputs:` list);
every later stage sees this one shape instead: data encodes each head's target for its
loss, the model compiles with the heads, reports score per head, and the run keeps them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class OutputHead:
    """One model output.

    Example:
        >>> head = OutputHead("output", "species", "sparse_categorical_crossentropy", ["accuracy"])
        >>> OutputHead.from_json(head.to_json()) == head
        True
    """

    name: str                 # the model output's name ("output" for Sequential, the node for graphs)
    target: str               # the target column it predicts
    loss: str | None
    metrics: list[str] = field(default_factory=list)
    loss_weight: float = 1.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "OutputHead":
        return cls(data["name"], data["target"], data.get("loss"), list(data.get("metrics") or []),
                   float(data.get("loss_weight", 1.0)))


def output_heads(spec, target_names: list[str]) -> list[OutputHead]:
    """The heads of an ExperimentSpec, in model output order (`target_names`: the data's targets)."""
    if not spec.model.is_graph:
        (target,) = target_names
        return [OutputHead("output", target, spec.loss, list(spec.metrics or []), 1.0)]
    return [OutputHead(o.node, o.target, o.loss, list(o.metrics or []), o.loss_weight) for o in spec.model.outputs]
