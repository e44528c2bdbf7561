"""The job request (the original API's camelCase body): its one definition, and the
validator that turns a body into a ``JobSpec``.

``REQUEST`` below is the single definition of the request's outer structure: every field's
JSON type, limits (minimum/maximum, length, pattern, allowed values, list and map sizes),
default and help. Three things read it and nothing else re-declares it:

- ``parse_job_request`` takes each limit from it (and which keys an object allows);
- ``jobs.forms.JobForm`` builds its inputs, HTML bounds and help texts from it;
- ``request_json_schema()`` turns it into the OpenAPI components of the create body.

Why a small declarative table rather than a pydantic model: the API's error contract
(the wording of every reason, "null counts as absent", ``2.0`` taken as the integer ``2``,
every problem reported at once with dotted camelCase paths, cross-field rules that need the
partial result) is pinned by hundreds of contract tests. A pydantic model would need a
translation layer for each of its error types and a second pass for the cross-field rules,
so the behaviour would again live in two places; the table keeps the wording where it is
and still gives one source for validation, form and schema. The frameworks' ``Param``
schemas stay the one definition of the hyperparameters.

Every problem is collected and reported at once as one ``SpecError`` whose ``fields`` map
the dotted request path (``resources.instanceResources.cpuCores``,
``hyperparameters.xgboost.eta``, ``targetClusters.1``) to its reasons, so a client or the
form can fix everything in one round. Validation costs time linear in the body: lists and
maps are refused whole beyond their caps before their items are looked at, and the number of
problems collected is bounded. Every pattern must match the whole value (``fullmatch``): a
trailing newline is never accepted. Pure: the only outside input is the map of built-in
images, read from Django settings only when the caller passes none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar

from jobs.exceptions import SpecError
from jobs.frameworks import FRAMEWORKS, Resources, get_framework
from jobs.frameworks.base import fmt_number, json_type

# Patterns are written unanchored and always applied with ``fullmatch`` (see
# ``Field.matches``); the OpenAPI schema anchors them as ``^(?:…)$``, which in a JSON
# Schema (ECMA-262) regex also means the whole value. Character classes are spelled out
# (no ``\w``/``\d``) because Python's would also match non-ASCII letters and digits.
JOB_NAME_PATTERN = r"[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_NAME_PATTERN = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
# An OCI reference: [registry[:port]/]path[:tag][@digest]; no spaces, no scheme.
IMAGE_PATTERN = (
    r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?"
)
JOB_NAME_RE = re.compile(JOB_NAME_PATTERN)
DNS1123_LABEL_RE = re.compile(DNS1123_LABEL_PATTERN)
DNS1123_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_PATTERN)
LABEL_NAME_RE = re.compile(LABEL_NAME_PATTERN)
IMAGE_RE = re.compile(IMAGE_PATTERN)

# The Kubernetes name is jobName + "-" + 8 hex digits and must leave room for the operators'
# pod names (see jobs.manifests.kubernetes_name); 50 is what users see as the limit.
JOB_NAME_MAX = 50
NAMESPACE_MAX = 63
ALGORITHM_NAME_MAX = 100
IMAGE_MAX = 500
CLUSTER_NAME_MAX = 253
LABEL_VALUE_MAX = 63
CLEAN_POD_POLICIES = ("None", "Running", "All")
# The priorities when the operator configures none (settings.JOB_PRIORITIES), highest first.
BUILTIN_PRIORITIES = ("high", "normal", "low")
DEFAULT_PRIORITY = "normal"
SOURCES = ("default", "custom")

MAX_CPU_CORES = 256
MAX_MEMORY_GIB = 2048
MAX_GPUS = 16
MAX_INSTANCES = 128
MAX_VOLUME_GB = 10_000
MAX_COMMAND_ITEMS = 64
MAX_LABELS = 32
# A job runs whole on one cluster; a federation with more members than this is not what a
# request should enumerate, and the cap keeps a hostile list from costing anything.
MAX_TARGET_CLUSTERS = 100
MAX_BACKOFF_LIMIT = 100
INT32_MAX = 2**31 - 1

# How many distinct problem paths one request may collect; the rest are only counted. The
# API shows fewer still (see ``SpecError.bounded``), but collecting stops here so that a body
# of 600k bad names costs neither memory nor time beyond reading it.
MAX_COLLECTED_PROBLEMS = 200

# Label prefixes the platform and the systems under it write themselves: a user label there
# would be overwritten or, worse, be taken for ours (mlplatform.io/job-id selects the job).
RESERVED_LABEL_PREFIXES = ("mlplatform.io", "app.kubernetes.io", "training.kubeflow.org")
# Kubernetes and Karmada reserve these domains and every subdomain of them.
RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "karmada.io")

JsonType = Literal["string", "integer", "number", "array", "object"]

_T = TypeVar("_T")


def _declared(value: _T | None) -> _T:
    """A limit or sub-field of ``REQUEST`` that the validator relies on. ``Field`` leaves
    each one optional because most fields have none; the fields checked with this always
    declare it, so a None here is a bug in the table, not in the request."""
    if value is None:
        raise AssertionError("REQUEST lacks a limit the validator relies on")
    return value


@dataclass(frozen=True)
class Field:
    """One field of the request: what the validator enforces, the form offers and the
    schema documents. ``minimum``/``maximum`` are inclusive unless ``exclusive_minimum``."""

    type: JsonType
    help: str = ""
    required: bool = False
    default: Any = None
    minimum: int | None = None
    exclusive_minimum: bool = False
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    items: Field | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    # Objects: fixed keys (``properties``, others refused) or a map (``values``).
    properties: Mapping[str, Field] = field(default_factory=dict)
    values: Field | None = None
    max_properties: int | None = None
    component: str = ""  # the OpenAPI component name of an object
    example: Any = None
    schema_extra: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None

    def matches(self, value: str) -> bool:
        """Length and pattern, both over the whole value."""
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return self.regex is None or self.regex.fullmatch(value) is not None

    def describe(self) -> str:
        """Short text of type, range and default for the form, e.g. "int in [1, 128],
        default 1"."""
        text = {"string": "text", "integer": "int", "number": "number"}.get(self.type, self.type)
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            left = "(" if self.exclusive_minimum else "["
            text += f" in {left}{fmt_number(lo)}, {fmt_number(hi)}]"
        elif lo is not None:
            text += f" {'>' if self.exclusive_minimum else '≥'} {fmt_number(lo)}"
        elif hi is not None:
            text += f" ≤ {fmt_number(hi)}"
        if self.max_length is not None:
            text += f", at most {self.max_length} characters"
        if self.required:
            return f"{text}, required"
        if self.default is None:
            return f"{text}, optional"
        return f"{text}, default {self.default}"


ALGORITHM = Field(
    "object",
    component="AlgorithmRequest",
    help="Which algorithm runs: a framework's built-in image, or your own.",
    properties={
        "source": Field(
            "string",
            enum=SOURCES,
            default="default",
            help="`default`: the framework's built-in image; `custom`: your `image`.",
        ),
        "algorithmName": Field(
            "string",
            max_length=ALGORITHM_NAME_MAX,
            help="With `source: default`, the built-in algorithm, which is the framework's "
            "name (e.g. `xgboost`); any other name is refused. With `source: custom`, a "
            "label of your choice.",
        ),
        "framework": Field(
            "string",
            enum=tuple(FRAMEWORKS),
            help="The framework; taken from `algorithmName` (or the only key of "
            "`hyperparameters`) when omitted. Required for a custom algorithm. Must agree "
            "with `algorithmName` and `hyperparameters`.",
        ),
        "image": Field(
            "string",
            max_length=IMAGE_MAX,
            pattern=IMAGE_PATTERN,
            help="Container image; `custom` only (required there).",
            example="registry.example.com/team/train:1.0",
        ),
        "command": Field(
            "array",
            items=Field("string", schema_extra={"minLength": 1}),
            min_items=1,
            max_items=MAX_COMMAND_ITEMS,
            help="Overrides the image's entrypoint; `custom` only.",
        ),
    },
)

INSTANCE_RESOURCES = Field(
    "object",
    required=True,
    component="InstanceResourcesRequest",
    help="What each instance (pod) gets.",
    properties={
        "cpuCores": Field(
            "number",
            required=True,
            minimum=0,
            exclusive_minimum=True,
            maximum=MAX_CPU_CORES,
            help="Per instance.",
        ),
        "memoryGiB": Field(
            "number",
            required=True,
            minimum=0,
            exclusive_minimum=True,
            maximum=MAX_MEMORY_GIB,
            help="Per instance.",
        ),
        "gpuCount": Field("integer", minimum=0, maximum=MAX_GPUS, default=0, help="Per instance."),
    },
)

RESOURCES = Field(
    "object",
    required=True,
    component="ResourcesRequest",
    properties={
        "instanceResources": INSTANCE_RESOURCES,
        "instanceCount": Field(
            "integer",
            minimum=1,
            maximum=MAX_INSTANCES,
            default=1,
            help="Training instances (pods); an MPI launcher is not counted.",
        ),
        "volumeSizeGB": Field(
            "integer",
            minimum=0,
            maximum=MAX_VOLUME_GB,
            default=0,
            help="Scratch volume mounted at /opt/ml on every instance; 0 for none.",
        ),
    },
)

RUN_POLICY = Field(
    "object",
    component="RunPolicyRequest",
    help="Passed to the training operator; each field optional.",
    properties={
        "activeDeadlineSeconds": Field(
            "integer",
            minimum=1,
            maximum=INT32_MAX,
            help="Maximum run time in seconds; no limit when not set.",
        ),
        "backoffLimit": Field(
            "integer",
            minimum=0,
            maximum=MAX_BACKOFF_LIMIT,
            help="Retries before the job fails; the operator's default when not set.",
        ),
        "ttlSecondsAfterFinished": Field(
            "integer",
            minimum=0,
            maximum=INT32_MAX,
            help="Seconds to keep the finished job; kept until deleted when not set.",
        ),
        "cleanPodPolicy": Field(
            "string",
            enum=CLEAN_POD_POLICIES,
            help="Which pods to delete when the job finishes.",
        ),
    },
)

REQUEST = Field(
    "object",
    component="JobRequest",
    help="The request body. Unknown keys are refused; null counts as not given.",
    properties={
        "jobName": Field(
            "string",
            required=True,
            max_length=JOB_NAME_MAX,
            pattern=JOB_NAME_PATTERN,
            help="Lower-case letters, digits and '-', starting with a letter and not ending "
            "with '-'.",
            example="xgboost-training",
        ),
        "namespace": Field(
            "string",
            default="default",
            max_length=NAMESPACE_MAX,
            pattern=DNS1123_LABEL_PATTERN,
            help="Kubernetes namespace; you need access to it.",
        ),
        "algorithm": ALGORITHM,
        "resources": RESOURCES,
        "hyperparameters": Field(
            "object",
            help='`{"<framework>": {name: value}}`: one key, the job\'s framework; see GET '
            "/api/v1/frameworks for the names, types, ranges and defaults.",
            values=Field("object", schema_extra={"additionalProperties": True}),
            max_properties=1,
            example={"xgboost": {"num_round": 100, "eta": 0.3, "max_depth": 6}},
        ),
        "targetClusters": Field(
            "array",
            items=Field("string", max_length=CLUSTER_NAME_MAX, pattern=DNS1123_SUBDOMAIN_PATTERN),
            max_items=MAX_TARGET_CLUSTERS,
            unique_items=True,
            help="Member clusters the job may run on (it runs whole on one of them). "
            "Empty: any ready cluster with room.",
        ),
        "runPolicy": RUN_POLICY,
        "priority": Field(
            "string",
            default=DEFAULT_PRIORITY,
            enum=BUILTIN_PRIORITIES,
            help="Queue priority: higher ones are admitted first when quota or cluster room "
            "is short. One of the operator's priorities (by default `high`, `normal`, `low`); "
            "a namespace's quota may allow only some.",
        ),
        "labels": Field(
            "object",
            values=Field("string", max_length=LABEL_VALUE_MAX, pattern=f"({LABEL_NAME_PATTERN})?"),
            max_properties=MAX_LABELS,
            help="Kubernetes labels put on the job's objects. Keys are qualified names "
            "(`[prefix/]name`); the prefixes mlplatform.io, app.kubernetes.io, "
            "training.kubeflow.org and any *kubernetes.io, *k8s.io or *karmada.io are "
            "reserved.",
        ),
    },
)


def request_field(path: str) -> Field:
    """The definition at a dotted request path, e.g. ``resources.instanceCount``."""
    node = REQUEST
    for key in path.split("."):
        node = node.properties[key]
    return node


def request_json_schema(oas_30: bool = True) -> dict[str, dict[str, Any]]:
    """The request's OpenAPI components, ``{component name: schema}``, nested objects
    referenced by ``#/components/schemas/<name>``. ``oas_30`` writes an exclusive bound the
    OpenAPI 3.0 way (``exclusiveMinimum: true`` beside ``minimum``)."""
    components: dict[str, dict[str, Any]] = {}

    def convert(f: Field) -> dict[str, Any]:
        if f.type == "object" and f.component:
            if f.component not in components:
                components[f.component] = {}  # reserve the name first: no cycles, one copy
                components[f.component] = _object_schema(f)
            return {"$ref": f"#/components/schemas/{f.component}"}
        return _leaf_schema(f)

    def _object_schema(f: Field) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        if f.help:
            schema["description"] = f.help
        schema["properties"] = {key: convert(sub) for key, sub in f.properties.items()}
        required = [key for key, sub in f.properties.items() if sub.required]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema

    def _leaf_schema(f: Field) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": f.type}
        if f.help:
            schema["description"] = f.help
        if f.enum:
            schema["enum"] = list(f.enum)
        if f.minimum is not None:
            if f.exclusive_minimum and oas_30:
                schema["minimum"], schema["exclusiveMinimum"] = f.minimum, True
            elif f.exclusive_minimum:
                schema["exclusiveMinimum"] = f.minimum
            else:
                schema["minimum"] = f.minimum
        if f.maximum is not None:
            schema["maximum"] = f.maximum
        if f.max_length is not None:
            schema["maxLength"] = f.max_length
        if f.pattern is not None:
            schema["pattern"] = f"^(?:{f.pattern})$"
        if f.items is not None:
            schema["items"] = convert(f.items)
        if f.min_items is not None:
            schema["minItems"] = f.min_items
        if f.max_items is not None:
            schema["maxItems"] = f.max_items
        if f.unique_items:
            schema["uniqueItems"] = True
        if f.values is not None:
            schema["additionalProperties"] = convert(f.values)
        if f.max_properties is not None:
            schema["maxProperties"] = f.max_properties
        if f.default is not None:
            schema["default"] = f.default
        if f.example is not None:
            schema["example"] = f.example
        schema.update(f.schema_extra)
        return schema

    convert(REQUEST)
    return components


@dataclass(frozen=True)
class JobSpec:
    name: str
    namespace: str
    framework: str
    algorithm_source: str
    algorithm_name: str
    image: str
    command: list[str]
    cpu_cores: float
    memory_gib: float
    gpu_count: int
    instance_count: int
    volume_size_gb: int
    hyperparameters: dict  # flat {name: value} of the framework, validated, defaults filled
    target_clusters: list[str]
    run_policy: dict  # camelCase keys as in the request, only those given
    labels: dict
    priority: str = DEFAULT_PRIORITY


class _Errors:
    """The problems found so far; beyond ``MAX_COLLECTED_PROBLEMS`` paths only counted."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.omitted = 0

    def add(self, path: str, reason: str) -> None:
        reasons = self.fields.get(path)
        if reasons is None:
            if len(self.fields) >= MAX_COLLECTED_PROBLEMS:
                self.omitted += 1
                return
            reasons = self.fields[path] = []
        if reason not in reasons:
            reasons.append(reason)

    def merge(self, fields: Mapping[str, list[str]]) -> None:
        for path, reasons in fields.items():
            for reason in reasons:
                self.add(path, reason)

    def error(self, **kwargs: Any) -> SpecError:
        fields = self.fields or {"body": ["The request is incomplete."]}
        return SpecError(fields, omitted=self.omitted, **kwargs)


def _shown(value: str, limit: int = 100) -> str:
    """A user's value quoted in a reason: short, so the reason stays short whatever was sent."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed access to one JSON object of the request, recording what is wrong. Limits,
    defaults and whether a key is required come from the object's ``Field``."""

    def __init__(self, errors: _Errors, obj: Mapping[str, Any], path: str, spec: Field) -> None:
        self.errors, self.obj, self.path, self.spec = errors, obj, path, spec

    def reject_unknown(self) -> None:
        allowed = tuple(self.spec.properties)
        for key in self.obj:
            if key not in allowed:
                where = f" in {self.path}" if self.path else ""
                self.errors.add(
                    _join(self.path, str(key)),
                    f"Unknown field{where}. Allowed: {', '.join(allowed)}.",
                )

    def present(self, key: str) -> bool:
        # null counts as absent for optional fields: clients often send it for "not set".
        return self.obj.get(key) is not None

    def missing(self, key: str) -> None:
        self.errors.add(_join(self.path, key), "This field is required.")

    def wrong_type(self, key: str, expected: str) -> None:
        got = json_type(self.obj.get(key))
        self.errors.add(_join(self.path, key), f"Expected {expected}, got {got}.")

    def string(self, key: str) -> str | None:
        spec = self.spec.properties[key]
        if not self.present(key):
            if spec.required:
                self.missing(key)
            return spec.default
        value = self.obj[key]
        if not isinstance(value, str):
            self.wrong_type(key, "a string")
            return None
        return value

    def integer(self, key: str) -> int | None:
        spec = self.spec.properties[key]
        if not self.present(key):
            if spec.required:
                self.missing(key)
            return spec.default
        value = self.obj[key]
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            # 2.0 from a JavaScript client is still the integer 2.
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(key, "an integer")
            return None
        return self._ranged(key, value, spec)

    def number(self, key: str) -> float | None:
        spec = self.spec.properties[key]
        if not self.present(key):
            if spec.required:
                self.missing(key)
            return spec.default
        value = self.obj[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(key, "a number")
            return None
        if not math.isfinite(value):
            self.errors.add(_join(self.path, key), "Expected a finite number.")
            return None
        if self._ranged(key, value, spec) is None:
            return None
        return float(value)

    def _ranged(self, key: str, value: float, spec: Field) -> Any:
        lo, hi = spec.minimum, spec.maximum
        if lo is not None and spec.exclusive_minimum and value <= lo:
            self.errors.add(_join(self.path, key), f"Must be greater than {lo}.")
            return None
        if lo is not None and value < lo:
            self.errors.add(_join(self.path, key), f"Must be at least {lo}.")
            return None
        if hi is not None and value > hi:
            self.errors.add(_join(self.path, key), f"Must be at most {hi}.")
            return None
        return value

    def child(self, key: str) -> _Reader | None:
        """The nested object at ``key`` (an empty one when absent and optional)."""
        spec = self.spec.properties[key]
        if not self.present(key):
            if spec.required:
                self.missing(key)
                return None
            return _Reader(self.errors, {}, _join(self.path, key), spec)
        value = self.obj[key]
        if not isinstance(value, dict):
            self.wrong_type(key, "an object")
            return None
        return _Reader(self.errors, value, _join(self.path, key), spec)


def _default_images() -> Mapping[str, str]:
    from django.conf import settings

    return settings.DEFAULT_IMAGES


def request_namespace(data: Any) -> str | None:
    """The namespace the body names, when it names a valid one, else None — read without
    looking at anything else, so the caller can check access before paying for the full
    validation (which reports an invalid namespace with everything else)."""
    if not isinstance(data, dict):
        return None
    value = data.get("namespace")
    if isinstance(value, str) and value and REQUEST.properties["namespace"].matches(value):
        return value
    return None


def _configured_priorities() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(getattr(settings, "JOB_PRIORITIES", BUILTIN_PRIORITIES))


def parse_job_request(
    data: Any,
    *,
    default_images: Mapping[str, str] | None = None,
    priorities: tuple[str, ...] | None = None,
) -> JobSpec:
    """Validate a request body and return the job it describes; ``SpecError`` lists every
    problem. ``default_images`` maps framework -> built-in image (settings.DEFAULT_IMAGES
    when not given); ``priorities`` the allowed priorities (settings.JOB_PRIORITIES)."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise SpecError(
            {"body": [f"Expected a JSON object, got {json_type(data)}."]},
            message="The request body must be a JSON object.",
        )
    body = _Reader(errors, data, "", REQUEST)
    body.reject_unknown()

    name = _job_name(body)
    namespace = _namespace(body)
    algorithm = _algorithm(body)
    raw_hp = data.get("hyperparameters")
    framework = _resolve_framework(errors, algorithm, raw_hp)
    resources = _resources(body)
    target_clusters = _target_clusters(body)
    run_policy = _run_policy(body)
    labels = _labels(body)
    priority = _priority(body, _configured_priorities() if priorities is None else priorities)

    hyperparameters: dict[str, Any] = {}
    if raw_hp is not None and not isinstance(raw_hp, dict):
        errors.add("hyperparameters", f"Expected an object, got {json_type(raw_hp)}.")
    elif framework is not None:
        hyperparameters = _hyperparameters(
            errors,
            raw_hp,
            framework,
            custom=algorithm["source"] == "custom",
            resources=resources,
            named_by=algorithm["framework_from"],
        )

    image = algorithm["image"]
    if framework is not None and algorithm["source"] == "default":
        images = _default_images() if default_images is None else default_images
        image = images.get(framework)
        if not image:
            errors.add(
                "algorithm.algorithmName", f"No built-in image is configured for {framework}."
            )

    if errors.fields or framework is None or image is None or resources is None:
        raise errors.error()
    return JobSpec(
        name=name or "",
        namespace=namespace or "",
        framework=framework,
        algorithm_source=algorithm["source"],
        algorithm_name=algorithm["name"] or framework,
        image=image,
        command=list(algorithm["command"]),
        cpu_cores=resources["cpu_cores"],
        memory_gib=resources["memory_gib"],
        gpu_count=resources["gpu_count"],
        instance_count=resources["instance_count"],
        volume_size_gb=resources["volume_size_gb"],
        hyperparameters=hyperparameters,
        target_clusters=target_clusters,
        run_policy=run_policy,
        labels=labels,
        priority=priority or DEFAULT_PRIORITY,
    )


def _priority(body: _Reader, allowed: tuple[str, ...]) -> str | None:
    value = body.string("priority")
    if value is None or value == "":
        # Absent (the original request) or a blank form input: the default.
        return None if body.present("priority") and value is None else DEFAULT_PRIORITY
    if value not in allowed:
        body.errors.add(
            "priority", f"Unknown priority '{_shown(value)}'. Allowed: {', '.join(allowed)}."
        )
        return None
    return value


def _job_name(body: _Reader) -> str | None:
    name = body.string("jobName")
    if name is None:
        return None
    if name == "":
        body.missing("jobName")
        return None
    spec = body.spec.properties["jobName"]
    if len(name) > _declared(spec.max_length):
        body.errors.add("jobName", f"Must be at most {spec.max_length} characters.")
    if spec.regex is not None and not spec.regex.fullmatch(name):
        body.errors.add(
            "jobName",
            "Use lower-case letters, digits and '-', starting with a letter and not ending "
            "with '-'.",
        )
    return name


def _namespace(body: _Reader) -> str | None:
    spec = body.spec.properties["namespace"]
    value = body.obj.get("namespace")
    # An empty string is what a blank form input sends: treat it as "not given".
    if value is None or value == "":
        return spec.default
    if not isinstance(value, str):
        body.wrong_type("namespace", "a string")
        return None
    if not spec.matches(value):
        body.errors.add(
            "namespace",
            f"Must be a Kubernetes namespace name: at most {spec.max_length} lower-case "
            "letters, digits and '-', starting and ending with a letter or digit.",
        )
    return value


def _algorithm(body: _Reader) -> dict[str, Any]:
    result: dict[str, Any] = {
        "source": "default",
        "name": None,
        "framework": None,
        "framework_from": None,
        "image": None,
        "command": [],
        "ok": True,
    }
    alg = body.child("algorithm")
    if alg is None:
        result["ok"] = False
        return result
    alg.reject_unknown()
    fields = alg.spec.properties
    source = alg.string("source")
    if source is not None and source not in fields["source"].enum:
        alg.errors.add("algorithm.source", "Must be 'default' or 'custom'.")
        source = None
    if source is None:
        result["ok"] = False
    result["source"] = source or "default"
    name = alg.string("algorithmName")
    if name is not None and len(name) > _declared(fields["algorithmName"].max_length):
        alg.errors.add(
            "algorithm.algorithmName",
            f"Must be at most {fields['algorithmName'].max_length} characters.",
        )
    result["name"] = name or None
    result["framework"] = alg.string("framework")
    if alg.present("framework") and result["framework"] is None:
        result["ok"] = False

    custom = source == "custom"
    image_given = alg.present("image")
    image = alg.string("image")  # reports a wrong type itself
    if image_given and source == "default":
        alg.errors.add(
            "algorithm.image",
            "Only for source 'custom'; built-in algorithms use the framework's image.",
        )
    elif custom and (not image_given or image == ""):
        alg.missing("image")
    elif custom and image is not None:
        if not fields["image"].matches(image):
            alg.errors.add(
                "algorithm.image",
                "Not a valid image reference, e.g. 'registry.example.com/team/trainer:1.2'.",
            )
        result["image"] = image

    if alg.present("command"):
        command = alg.obj["command"]
        spec = fields["command"]
        if not custom and source is not None:
            alg.errors.add("algorithm.command", "Only for source 'custom'.")
        elif not isinstance(command, list):
            alg.wrong_type("command", "an array of strings")
        elif len(command) < _declared(spec.min_items):
            alg.errors.add(
                "algorithm.command",
                "Must not be empty; leave it out to use the image's entrypoint.",
            )
        elif len(command) > _declared(spec.max_items):
            alg.errors.add("algorithm.command", f"At most {spec.max_items} items.")
        else:
            for i, item in enumerate(command):
                if not isinstance(item, str):
                    alg.errors.add(
                        f"algorithm.command.{i}", f"Expected a string, got {json_type(item)}."
                    )
                elif not item:
                    alg.errors.add(f"algorithm.command.{i}", "Must not be empty.")
            if all(isinstance(item, str) and item for item in command):
                result["command"] = list(command)
    return result


def _resolve_framework(
    errors: _Errors, algorithm: dict[str, Any], hyperparameters: Any
) -> str | None:
    """algorithm.framework, else algorithmName when it names a framework (the original API's
    ``"algorithmName": "xgboost"``), else the single key of ``hyperparameters``.

    Nothing is guessed: with ``source: default`` the algorithm name must be a built-in one
    (a framework's name), and a framework named in two places must be the same one; either
    contradiction is refused, naming both fields. Records in ``framework_from`` which field
    chose the framework, so a disagreeing ``hyperparameters`` key can name it too."""
    valid = ", ".join(FRAMEWORKS)
    if not algorithm["ok"]:
        return None
    explicit = algorithm["framework"]
    name = algorithm["name"]
    builtin = algorithm["source"] == "default"
    if builtin and name is not None and name not in FRAMEWORKS:
        errors.add(
            "algorithm.algorithmName",
            f"Unknown framework '{_shown(name)}'. Valid: {valid}. With source 'default' the name "
            "must be a built-in algorithm; use source 'custom' for your own.",
        )
        return None
    if explicit is not None:
        if explicit not in FRAMEWORKS:
            errors.add(
                "algorithm.framework", f"Unknown framework '{_shown(explicit)}'. Valid: {valid}."
            )
            return None
        if name in FRAMEWORKS and name != explicit:
            errors.add(
                "algorithm.algorithmName",
                f"Names the framework '{name}' but algorithm.framework is '{explicit}'.",
            )
            errors.add(
                "algorithm.framework",
                f"Is '{explicit}' but algorithm.algorithmName names the framework '{name}'.",
            )
            return None
        algorithm["framework_from"] = "algorithm.framework"
        return explicit
    if name in FRAMEWORKS:
        algorithm["framework_from"] = "algorithm.algorithmName"
        return name
    hp_keys = list(hyperparameters) if isinstance(hyperparameters, dict) else []
    if len(hp_keys) == 1 and hp_keys[0] in FRAMEWORKS:
        return hp_keys[0]
    if name is None:
        errors.add("algorithm.algorithmName", f"Required: name the framework ({valid}).")
    else:
        errors.add(
            "algorithm.framework",
            f"Required for the custom algorithm '{_shown(name)}': one of {valid}.",
        )
    return None


def _hyperparameters(
    errors: _Errors,
    value: dict[str, Any] | None,
    framework: str,
    *,
    custom: bool,
    resources: dict[str, Any] | None,
    named_by: str | None,
) -> dict[str, Any]:
    fw = get_framework(framework)
    values: Any = {}
    if value is not None:
        for key in value:
            if key != framework:
                errors.add(
                    f"hyperparameters.{key}",
                    f"The job's framework is {framework}: give its hyperparameters under "
                    f"'{framework}'.",
                )
                if named_by is not None and key in FRAMEWORKS and framework not in value:
                    # The framework is named twice, differently: refuse on both fields.
                    errors.add(
                        named_by,
                        f"Names the framework '{framework}' but the hyperparameters are for "
                        f"'{key}'.",
                    )
        values = value.get(framework)
        if values is None:
            values = {}
    context = None
    if resources is not None:
        context = Resources(
            gpu_count=resources["gpu_count"],
            instance_count=resources["instance_count"],
            volume_size_gb=resources["volume_size_gb"],
        )
    try:
        return fw.validate_hyperparameters(values, custom=custom, resources=context)
    except SpecError as exc:
        errors.merge(exc.fields)
        errors.omitted += exc.omitted
        return {}


def _resources(body: _Reader) -> dict[str, Any] | None:
    res = body.child("resources")
    if res is None:
        return None
    res.reject_unknown()
    inst = res.child("instanceResources")
    cpu = memory = gpu = None
    if inst is not None:
        inst.reject_unknown()
        cpu = inst.number("cpuCores")
        memory = inst.number("memoryGiB")
        gpu = inst.integer("gpuCount")
    count = res.integer("instanceCount")
    volume = res.integer("volumeSizeGB")
    if None in (cpu, memory, gpu, count, volume):
        return None
    return {
        "cpu_cores": cpu,
        "memory_gib": memory,
        "gpu_count": gpu,
        "instance_count": count,
        "volume_size_gb": volume,
    }


def _target_clusters(body: _Reader) -> list[str]:
    if not body.present("targetClusters"):
        return []
    value = body.obj["targetClusters"]
    if not isinstance(value, list):
        body.wrong_type("targetClusters", "an array of cluster names")
        return []
    spec = body.spec.properties["targetClusters"]
    item_spec = _declared(spec.items)
    if len(value) > _declared(spec.max_items):
        # Refused whole, before any item is looked at: the cost stays independent of size.
        body.errors.add("targetClusters", f"At most {spec.max_items} clusters. Got {len(value)}.")
        return []
    clusters: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        path = f"targetClusters.{i}"
        if not isinstance(item, str):
            body.errors.add(path, f"Expected a string, got {json_type(item)}.")
        elif not item_spec.matches(item):
            body.errors.add(
                path, f"'{_shown(item)}' is not a valid cluster name (lower-case DNS name)."
            )
        elif item in seen:
            body.errors.add(path, f"Cluster '{item}' is listed twice.")
        else:
            seen.add(item)
            clusters.append(item)
    return clusters


def _run_policy(body: _Reader) -> dict[str, Any]:
    rp = body.child("runPolicy")
    if rp is None:
        return {}
    rp.reject_unknown()
    result: dict[str, Any] = {}
    for key in ("activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        value = rp.integer(key)
        if value is not None:
            result[key] = value
    policy = rp.string("cleanPodPolicy")
    if policy is not None:
        allowed = rp.spec.properties["cleanPodPolicy"].enum
        if policy in allowed:
            result["cleanPodPolicy"] = policy
        else:
            rp.errors.add("runPolicy.cleanPodPolicy", f"Must be one of: {', '.join(allowed)}.")
    return result


def label_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a user label key, or None. Kubernetes' qualified-name rules,
    plus the prefixes reserved for the platform and the systems it drives."""
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not LABEL_NAME_RE.fullmatch(name):
        return (
            "The name part must be at most 63 characters: letters, digits, '-', '_' and "
            "'.', starting and ending with a letter or digit."
        )
    if "/" in key:
        if not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
            return "The prefix must be a lower-case DNS subdomain, e.g. 'example.com/'."
        if prefix in RESERVED_LABEL_PREFIXES or any(
            prefix == d or prefix.endswith("." + d) for d in RESERVED_LABEL_DOMAINS
        ):
            return f"The prefix '{prefix}/' is reserved."
    return None


def _labels(body: _Reader) -> dict[str, str]:
    if not body.present("labels"):
        return {}
    value = body.obj["labels"]
    if not isinstance(value, dict):
        body.wrong_type("labels", "an object of string values")
        return {}
    spec = body.spec.properties["labels"]
    value_spec = _declared(spec.values)
    if len(value) > _declared(spec.max_properties):
        # Refused whole, before any label is looked at.
        body.errors.add("labels", f"At most {spec.max_properties} labels. Got {len(value)}.")
        return {}
    labels: dict[str, str] = {}
    for key, val in value.items():
        path = f"labels.{key}"
        problem = label_key_problem(key)
        if problem:
            body.errors.add(path, problem)
            continue
        if not isinstance(val, str):
            body.errors.add(path, f"Expected a string, got {json_type(val)}.")
            continue
        if not value_spec.matches(val):
            body.errors.add(
                path,
                f"Values are at most {value_spec.max_length} characters: letters, digits, "
                "'-', '_' and '.', starting and ending with a letter or digit (or empty).",
            )
            continue
        labels[key] = val
    return labels


# --- run again ---------------------------------------------------------------------------

_RUN_SUFFIX_RE = re.compile(r"^(?P<stem>.*?)-(?P<n>[0-9]+)$")


def request_from_job(job: Any) -> dict[str, Any]:
    """The request body that creates ``job`` again: every field of ``REQUEST`` the job was
    created with (hyperparameters with their defaults filled in, as stored). ``job`` is a
    ``TrainingJob`` or anything with the same attributes; nothing else is read."""
    algorithm: dict[str, Any] = {
        "source": job.algorithm_source,
        "algorithmName": job.algorithm_name or job.framework,
        "framework": job.framework,
    }
    if job.algorithm_source == "custom":
        algorithm["image"] = job.image
        if job.command:
            algorithm["command"] = list(job.command)
    body: dict[str, Any] = {
        "jobName": job.name,
        "namespace": job.namespace,
        "algorithm": algorithm,
        "resources": {
            "instanceResources": {
                "cpuCores": job.cpu_cores,
                "memoryGiB": job.memory_gib,
                "gpuCount": job.gpu_count,
            },
            "instanceCount": job.instance_count,
            "volumeSizeGB": job.volume_size_gb,
        },
        "hyperparameters": {job.framework: dict(job.hyperparameters or {})},
        "targetClusters": list(job.target_clusters or []),
    }
    if job.run_policy:
        body["runPolicy"] = dict(job.run_policy)
    if job.labels:
        body["labels"] = dict(job.labels)
    return body


def merge_request(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it: objects merge key by key, anything else
    (strings, numbers, lists) replaces, and null removes the key (so the request's default
    applies). A change of framework in ``hyperparameters`` replaces the old framework's
    values instead of sitting beside them."""
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif (
            key == "hyperparameters"
            and isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and set(value) != set(base[key])
        ):
            merged[key] = value
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_request(base[key], value)
        else:
            merged[key] = value
    return merged


def next_run_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The name of a run of ``name`` again: ``train`` → ``train-2``, ``train-2`` →
    ``train-3``, skipping names in ``taken``; always a valid ``jobName``."""
    match = _RUN_SUFFIX_RE.match(name)
    stem, n = (match["stem"], int(match["n"])) if match and match["stem"] else (name, 1)
    limit = _declared(REQUEST.properties["jobName"].max_length)
    for _ in range(1000):
        n += 1
        suffix = f"-{n}"
        candidate = stem[: limit - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
    return candidate
