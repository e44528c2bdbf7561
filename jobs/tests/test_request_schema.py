"""The OpenAPI schema of the create body says exactly what the validator enforces.

The schema is read as a client reads it (GET /api/schema) and every limit it states —
minimum/maximum, exclusive bounds, maxLength, pattern, enum, required, list and map sizes,
unknown keys — is probed against ``parse_job_request`` at the limit and just past it."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from jobs.exceptions import SpecError
from jobs.specs import parse_job_request
from jobs.tests.contract import readme_example

IMAGES = {
    name: f"example/{name}:1"
    for name in ("tensorflow", "pytorch", "xgboost", "lightgbm", "jax", "horovod", "deepspeed")
}
CUSTOM_ALGORITHM = {
    "source": "custom",
    "algorithmName": "mine",
    "framework": "xgboost",
    "image": "registry.example.com/team/trainer:1.2",
}
# Fields that apply (or, for algorithmName, take free text) only with a custom algorithm
# are probed on one.
NEEDS_CUSTOM = ("algorithm.image", "algorithm.command", "algorithm.algorithmName")
# Every leaf the schema must document; a field missing from the schema fails the walk.
EXPECTED_PATHS = {
    "jobName",
    "namespace",
    "algorithm.source",
    "algorithm.algorithmName",
    "algorithm.framework",
    "algorithm.image",
    "algorithm.command",
    "resources.instanceResources.cpuCores",
    "resources.instanceResources.memoryGiB",
    "resources.instanceResources.gpuCount",
    "resources.instanceCount",
    "resources.volumeSizeGB",
    "hyperparameters",
    "targetClusters",
    "runPolicy.activeDeadlineSeconds",
    "runPolicy.backoffLimit",
    "runPolicy.ttlSecondsAfterFinished",
    "runPolicy.cleanPodPolicy",
    "labels",
    "priority",
}
# Strings a pattern is compared on: the schema's regex and the validator must agree on each.
PATTERN_SAMPLES = [
    "a",
    "a1",
    "a-b",
    "a.b",
    "a_b",
    "A",
    "1a",
    "-a",
    "a-",
    "a\n",
    "a b",
    "ä",
    "a/b",
    "a:1",
    "registry.example.com:5000/team/x:1.2",
    "x@sha256:" + "0" * 64,
    "",
]


@pytest.fixture
def schema(api_alice) -> dict[str, Any]:
    response = api_alice.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)["components"]["schemas"]


def _resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A property with its $ref (and drf-spectacular's single-allOf enum refs) inlined."""
    node = dict(node)
    if "$ref" in node:
        node = {**_resolve(schemas, schemas[node.pop("$ref").rsplit("/", 1)[1]]), **node}
    for part in node.pop("allOf", []):
        node = {**_resolve(schemas, part), **node}
    return node


def _leaves(schemas: dict[str, Any], node: dict[str, Any], path: str = ""):
    """(path, schema, required) of every field below an object with fixed properties, and
    (path, object schema, None) for every such object."""
    node = _resolve(schemas, node)
    yield path, node, None
    for key, sub in node["properties"].items():
        sub_path = f"{path}.{key}" if path else key
        sub = _resolve(schemas, sub)
        if sub.get("type") == "object" and "properties" in sub:
            yield from _leaves(schemas, sub, sub_path)
        else:
            yield sub_path, sub, key in node.get("required", [])


def _base(path: str) -> dict[str, Any]:
    body = readme_example()
    if path.startswith(NEEDS_CUSTOM):
        body["algorithm"] = dict(CUSTOM_ALGORITHM)
    if path == "algorithm.framework":
        # Every framework is probed: nothing else in the body may name one.
        body["algorithm"] = {"source": "default"}
        del body["hyperparameters"]
    return body


def _with(path: str, value: Any, *, base: dict[str, Any] | None = None) -> dict[str, Any]:
    body = copy.deepcopy(base if base is not None else _base(path))
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return body


def _without(path: str) -> dict[str, Any]:
    body = readme_example()
    if path == "hyperparameters":
        # XGBoost requires num_round (its Param schema's rule, not the request's): leaving
        # the whole object out is shown on a framework whose hyperparameters all default.
        body["algorithm"]["algorithmName"] = "pytorch"
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node.get(key, {})
    node.pop(last, None)
    return body


def _problems(body: dict[str, Any]) -> dict[str, list[str]]:
    try:
        parse_job_request(body, default_images=IMAGES)
    except SpecError as exc:
        return exc.fields
    return {}


def _refused(body: dict[str, Any], path: str) -> bool:
    return any(p == path or p.startswith(path + ".") for p in _problems(body))


def _check(path: str, value: Any, accepted: bool, **kwargs: Any) -> None:
    body = _with(path, value, **kwargs)
    assert _refused(body, path) is not accepted, (path, repr(value)[:80], _problems(body))


def _schema_pattern_accepts(pattern: str, value: str) -> bool:
    # The schema's regex is ECMA-262, where "$" is the very end; Python's "$" would also
    # match before a final newline, so read it as "\Z".
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return re.search(pattern[:-1] + r"\Z", value) is not None


def _filler(node: dict[str, Any], length: int) -> str:
    return "a" * length


def _check_string(path: str, node: dict[str, Any], put) -> None:
    if "maxLength" in node:
        limit = node["maxLength"]
        put(_filler(node, limit), True)
        put(_filler(node, limit + 1), False)
    if "pattern" in node:
        for sample in PATTERN_SAMPLES:
            expected = _schema_pattern_accepts(node["pattern"], sample)
            if sample == "" or len(sample) > node.get("maxLength", 10**9):
                continue  # empty means "not given" for some fields; lengths checked above
            put(sample, expected)
    if "enum" in node:
        for value in node["enum"]:
            put(value, True)
        put("not-" + node["enum"][0], False)


def _check_number(path: str, node: dict[str, Any], put) -> None:
    integer = node["type"] == "integer"
    if "minimum" in node:
        low = node["minimum"]
        if node.get("exclusiveMinimum") is True:
            put(low, False)
            put(low + 0.001, True)
        else:
            put(low, True)
            put(low - 1 if integer else low - 0.001, False)
    if "maximum" in node:
        high = node["maximum"]
        put(high, True)
        put(high + 1 if integer else high + 0.001, False)


def test_the_schema_limits_are_the_validators(schema):
    seen = set()
    for path, node, required in _leaves(schema, schema["JobRequest"]):
        if required is None:
            # An object with fixed keys: anything else is refused.
            if path:
                _check(f"{path}.notAField", 1, False)
            else:
                assert _refused({**readme_example(), "notAField": 1}, "notAField")
            assert node.get("additionalProperties") is False, path
            continue
        seen.add(path)

        def put(value: Any, accepted: bool, path: str = path) -> None:
            _check(path, value, accepted)

        if required:
            assert _problems(_without(path)).get(path) == ["This field is required."], path
        else:
            assert not _refused(_without(path), path), path

        kind = node["type"]
        if kind == "string":
            _check_string(path, node, put)
        elif kind in ("integer", "number"):
            _check_number(path, node, put)
        elif kind == "array":
            item = _resolve(schema, node["items"])
            if "maxItems" in node:
                limit = node["maxItems"]
                put([f"c{i}" for i in range(limit)], True)
                put([f"c{i}" for i in range(limit + 1)], False)
            if node.get("minItems"):
                put([], False)
            if node.get("uniqueItems"):
                put(["c1", "c1"], False)
            if item.get("type") == "string":
                _check_string(path, item, lambda value, ok: put([value], ok))
                if item.get("minLength"):
                    put([""], False)
        elif kind == "object":
            values = _resolve(schema, node["additionalProperties"])
            if path == "hyperparameters":
                assert node["maxProperties"] == 1
                put({"xgboost": {"num_round": 1}}, True)
                put({"xgboost": {"num_round": 1}, "pytorch": {}}, False)
                continue
            limit = node["maxProperties"]
            put({f"k{i}": "v" for i in range(limit)}, True)
            put({f"k{i}": "v" for i in range(limit + 1)}, False)
            _check_string(path, values, lambda value, ok: put({"team": value}, ok))
        else:
            pytest.fail(f"{path}: unexpected type {kind}")
    assert seen == EXPECTED_PATHS


def test_the_schema_says_cpu_must_be_more_than_zero(schema):
    cpu = schema["InstanceResourcesRequest"]["properties"]["cpuCores"]
    assert cpu["minimum"] == 0 and cpu["exclusiveMinimum"] is True
    assert "resources.instanceResources.cpuCores" in _problems(
        _with("resources.instanceResources.cpuCores", 0)
    )
