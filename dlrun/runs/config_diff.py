"""Which keys differ between resolved specs (plain mappings): for `dlrun compare` and for
refusing to resume a run with a spec other than its own."""

from __future__ import annotations


def flatten(data, prefix: str = "") -> dict[str, object]:
    """Nested mappings and lists of mappings as {dotted.key[0]: value}.

    Example:
        >>> flatten({"a": {"b": 1}, "c": [{"d": 2}]})
        {'a.b': 1, 'c[0].d': 2}
    """
    out = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and data and any(isinstance(v, (dict, list)) for v in data):
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix] = data
    return out


def config_differences(configs: list[dict]) -> dict[str, list]:
    """{dotted key: [value in each config]} for every key whose values are not all equal."""
    flat = [flatten(c) for c in configs]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}
