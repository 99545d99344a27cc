"""Walk the spec's JSON Schema along a data path: which keys are allowed there?

Used for did-you-mean on unknown keys and for checking `--set` paths, so the two always
agree with the pydantic models (the schema is generated from them).
"""

from __future__ import annotations

from functools import lru_cache

FREE = object()  # a free-form mapping: any key is allowed (layer arguments, for example)


@lru_cache(maxsize=1)
def spec_schema() -> dict:
    from dlrun.spec.models import ExperimentSpec

    return ExperimentSpec.model_json_schema()


def _branches(schema: dict, node) -> list:
    if node is FREE or not isinstance(node, dict):
        return [FREE]
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _branches(schema, schema["$defs"][name])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            out = []
            for member in node[key]:
                out.extend(_branches(schema, member))
            return out
    return [node]


def _children(schema: dict, node, key) -> list:
    out = []
    for branch in _branches(schema, node):
        if branch is FREE:
            out.append(FREE)
        elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            if branch.get("type") == "array":
                out.append(branch.get("items", FREE))
        elif branch.get("type") == "object" or "properties" in branch:
            props = branch.get("properties", {})
            if key in props:
                out.append(props[key])
            elif isinstance(branch.get("additionalProperties"), dict):
                out.append(branch["additionalProperties"])
            elif branch.get("additionalProperties", not props) is True:
                out.append(FREE)
    return out


def allowed_keys(path: tuple, schema: dict | None = None):
    """The keys allowed in the mapping at `path`, or None when any key is allowed there."""
    schema = schema or spec_schema()
    nodes = [schema]
    for key in path:
        nodes = [child for node in nodes for child in _children(schema, node, key)]
        if not nodes:
            return set()
    keys: set[str] = set()
    for node in nodes:
        for branch in _branches(schema, node):
            if branch is FREE:
                return None
            if branch.get("type") not in (None, "object") and "properties" not in branch:
                continue
            if branch.get("additionalProperties") is True or isinstance(branch.get("additionalProperties"), dict):
                return None
            keys.update(branch.get("properties", {}))
    return keys


def schema_document() -> dict:
    """The JSON Schema `dlrun schema` writes: the spec's models plus `extends:`, for editors."""
    schema = spec_schema()
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    document["title"] = "dlrun experiment spec"
    document["properties"] = {"extends": {"description": "A spec file (or list of them) this one builds on; "
                                                         "deep-merged, relative to this file.",
                                          "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                              **schema["properties"]}
    return document
