"""Validate a job request (the original API's camelCase body) into a ``JobSpec``.

Every problem is collected and reported at once as one ``SpecError`` whose ``fields`` map
the dotted request path (``resources.instanceResources.cpuCores``,
``hyperparameters.xgboost.eta``, ``targetClusters.1``) to its reasons, so a client or the
form can fix everything in one round. Pure: the only outside input is the map of built-in
images, read from Django settings only when the caller passes none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.exceptions import SpecError
from jobs.frameworks import FRAMEWORKS, Resources, get_framework
from jobs.frameworks.base import json_type

# The Kubernetes name is jobName + "-" + 8 hex digits and must leave room for the operators'
# pod names (see jobs.manifests.kubernetes_name); 50 is what users see as the limit.
JOB_NAME_MAX = 50
JOB_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
# An OCI reference: [registry[:port]/]path[:tag][@digest]; no spaces, no scheme.
IMAGE_RE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*"
    r"(:[\w][\w.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)

TOP_LEVEL_KEYS = (
    "jobName",
    "namespace",
    "algorithm",
    "resources",
    "hyperparameters",
    "targetClusters",
    "runPolicy",
    "labels",
)
ALGORITHM_KEYS = ("source", "algorithmName", "framework", "image", "command")
RESOURCES_KEYS = ("instanceResources", "instanceCount", "volumeSizeGB")
INSTANCE_KEYS = ("cpuCores", "memoryGiB", "gpuCount")
RUN_POLICY_KEYS = (
    "activeDeadlineSeconds",
    "backoffLimit",
    "ttlSecondsAfterFinished",
    "cleanPodPolicy",
)
CLEAN_POD_POLICIES = ("None", "Running", "All")
SOURCES = ("default", "custom")

MAX_CPU_CORES = 256
MAX_MEMORY_GIB = 2048
MAX_GPUS = 16
MAX_INSTANCES = 128
MAX_VOLUME_GB = 10_000
MAX_COMMAND_ITEMS = 64
MAX_LABELS = 32
INT32_MAX = 2**31 - 1

# Label prefixes the platform and the systems under it write themselves: a user label there
# would be overwritten or, worse, be taken for ours (mlplatform.io/job-id selects the job).
RESERVED_LABEL_PREFIXES = ("mlplatform.io", "app.kubernetes.io", "training.kubeflow.org")
# Kubernetes and Karmada reserve these domains and every subdomain of them.
RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "karmada.io")


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


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, reason: str) -> None:
        reasons = self.fields.setdefault(path, [])
        if reason not in reasons:
            reasons.append(reason)

    def merge(self, fields: Mapping[str, list[str]]) -> None:
        for path, reasons in fields.items():
            for reason in reasons:
                self.add(path, reason)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed access to one JSON object of the request, recording what is wrong."""

    def __init__(self, errors: _Errors, obj: Mapping[str, Any], path: str) -> None:
        self.errors, self.obj, self.path = errors, obj, path

    def reject_unknown(self, allowed: tuple[str, ...]) -> None:
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

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        if not self.present(key):
            if required:
                self.missing(key)
            return default
        value = self.obj[key]
        if not isinstance(value, str):
            self.wrong_type(key, "a string")
            return None
        return value

    def integer(
        self, key: str, *, lo: int, hi: int, required: bool = False, default: int | None = None
    ) -> int | None:
        if not self.present(key):
            if required:
                self.missing(key)
            return default
        value = self.obj[key]
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            # 2.0 from a JavaScript client is still the integer 2.
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(key, "an integer")
            return None
        return self._ranged(key, value, lo, hi)

    def number(self, key: str, *, hi: float, required: bool = False) -> float | None:
        """A positive number up to ``hi``."""
        if not self.present(key):
            if required:
                self.missing(key)
            return None
        value = self.obj[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(key, "a number")
            return None
        if not math.isfinite(value):
            self.errors.add(_join(self.path, key), "Expected a finite number.")
            return None
        if value <= 0:
            self.errors.add(_join(self.path, key), "Must be greater than 0.")
            return None
        if value > hi:
            self.errors.add(_join(self.path, key), f"Must be at most {hi}.")
            return None
        return float(value)

    def _ranged(self, key: str, value: int, lo: int, hi: int) -> int | None:
        if value < lo:
            self.errors.add(_join(self.path, key), f"Must be at least {lo}.")
            return None
        if value > hi:
            self.errors.add(_join(self.path, key), f"Must be at most {hi}.")
            return None
        return value

    def child(self, key: str, *, required: bool = False) -> _Reader | None:
        """The nested object at ``key`` (an empty one when absent and optional)."""
        if not self.present(key):
            if required:
                self.missing(key)
                return None
            return _Reader(self.errors, {}, _join(self.path, key))
        value = self.obj[key]
        if not isinstance(value, dict):
            self.wrong_type(key, "an object")
            return None
        return _Reader(self.errors, value, _join(self.path, key))


def _default_images() -> Mapping[str, str]:
    from django.conf import settings

    return settings.DEFAULT_IMAGES


def parse_job_request(data: Any, *, default_images: Mapping[str, str] | None = None) -> JobSpec:
    """Validate a request body and return the job it describes; ``SpecError`` lists every
    problem. ``default_images`` maps framework -> built-in image (settings.DEFAULT_IMAGES
    when not given)."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise SpecError(
            {"body": [f"Expected a JSON object, got {json_type(data)}."]},
            message="The request body must be a JSON object.",
        )
    body = _Reader(errors, data, "")
    body.reject_unknown(TOP_LEVEL_KEYS)

    name = _job_name(body)
    namespace = _namespace(body)
    algorithm = _algorithm(body)
    framework = _resolve_framework(errors, algorithm, data.get("hyperparameters"))
    resources = _resources(body)
    target_clusters = _target_clusters(body)
    run_policy = _run_policy(body)
    labels = _labels(body)

    hyperparameters: dict[str, Any] = {}
    raw_hp = data.get("hyperparameters")
    if raw_hp is not None and not isinstance(raw_hp, dict):
        errors.add("hyperparameters", f"Expected an object, got {json_type(raw_hp)}.")
    elif framework is not None:
        hyperparameters = _hyperparameters(
            errors,
            data.get("hyperparameters"),
            framework,
            custom=algorithm["source"] == "custom",
            resources=resources,
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
        raise SpecError(errors.fields or {"body": ["The request is incomplete."]})
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
    )


def _job_name(body: _Reader) -> str | None:
    name = body.string("jobName", required=True)
    if name is None:
        return None
    if name == "":
        body.missing("jobName")
        return None
    if len(name) > JOB_NAME_MAX:
        body.errors.add("jobName", f"Must be at most {JOB_NAME_MAX} characters.")
    if not JOB_NAME_RE.match(name):
        body.errors.add(
            "jobName",
            "Use lower-case letters, digits and '-', starting with a letter and not ending "
            "with '-'.",
        )
    return name


def _namespace(body: _Reader) -> str | None:
    value = body.obj.get("namespace")
    # An empty string is what a blank form input sends: treat it as "not given".
    if value is None or value == "":
        return "default"
    if not isinstance(value, str):
        body.wrong_type("namespace", "a string")
        return None
    if len(value) > 63 or not DNS1123_LABEL_RE.match(value):
        body.errors.add(
            "namespace",
            "Must be a Kubernetes namespace name: at most 63 lower-case letters, digits and "
            "'-', starting and ending with a letter or digit.",
        )
    return value


def _algorithm(body: _Reader) -> dict[str, Any]:
    result: dict[str, Any] = {
        "source": "default",
        "name": None,
        "framework": None,
        "image": None,
        "command": [],
        "ok": True,
    }
    alg = body.child("algorithm")
    if alg is None:
        result["ok"] = False
        return result
    alg.reject_unknown(ALGORITHM_KEYS)
    source = alg.string("source", default="default")
    if source is not None and source not in SOURCES:
        alg.errors.add("algorithm.source", "Must be 'default' or 'custom'.")
        source = None
    if source is None:
        result["ok"] = False
    result["source"] = source or "default"
    name = alg.string("algorithmName")
    if name is not None and len(name) > 100:
        alg.errors.add("algorithm.algorithmName", "Must be at most 100 characters.")
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
        if len(image) > 500 or not IMAGE_RE.match(image):
            alg.errors.add(
                "algorithm.image",
                "Not a valid image reference, e.g. 'registry.example.com/team/trainer:1.2'.",
            )
        result["image"] = image

    if alg.present("command"):
        command = alg.obj["command"]
        if not custom and source is not None:
            alg.errors.add("algorithm.command", "Only for source 'custom'.")
        elif not isinstance(command, list):
            alg.wrong_type("command", "an array of strings")
        elif not command:
            alg.errors.add(
                "algorithm.command",
                "Must not be empty; leave it out to use the image's entrypoint.",
            )
        elif len(command) > MAX_COMMAND_ITEMS:
            alg.errors.add("algorithm.command", f"At most {MAX_COMMAND_ITEMS} items.")
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
    ``"algorithmName": "xgboost"``), else the single key of ``hyperparameters``."""
    valid = ", ".join(FRAMEWORKS)
    if not algorithm["ok"]:
        return None
    explicit = algorithm["framework"]
    name = algorithm["name"]
    if explicit is not None:
        if explicit not in FRAMEWORKS:
            errors.add("algorithm.framework", f"Unknown framework '{explicit}'. Valid: {valid}.")
            return None
        if name in FRAMEWORKS and name != explicit:
            errors.add(
                "algorithm.algorithmName",
                f"Names the framework '{name}' but algorithm.framework is '{explicit}'.",
            )
            return None
        return explicit
    if name in FRAMEWORKS:
        return name
    hp_keys = list(hyperparameters) if isinstance(hyperparameters, dict) else []
    if len(hp_keys) == 1 and hp_keys[0] in FRAMEWORKS:
        return hp_keys[0]
    if name is None:
        errors.add("algorithm.algorithmName", f"Required: name the framework ({valid}).")
    elif algorithm["source"] == "custom":
        errors.add(
            "algorithm.framework",
            f"Required for the custom algorithm '{name}': one of {valid}.",
        )
    else:
        errors.add("algorithm.algorithmName", f"Unknown framework '{name}'. Valid: {valid}.")
    return None


def _hyperparameters(
    errors: _Errors,
    value: dict[str, Any] | None,
    framework: str,
    *,
    custom: bool,
    resources: dict[str, Any] | None,
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
        return {}


def _resources(body: _Reader) -> dict[str, Any] | None:
    res = body.child("resources", required=True)
    if res is None:
        return None
    res.reject_unknown(RESOURCES_KEYS)
    inst = res.child("instanceResources", required=True)
    cpu = memory = gpu = None
    if inst is not None:
        inst.reject_unknown(INSTANCE_KEYS)
        cpu = inst.number("cpuCores", hi=MAX_CPU_CORES, required=True)
        memory = inst.number("memoryGiB", hi=MAX_MEMORY_GIB, required=True)
        gpu = inst.integer("gpuCount", lo=0, hi=MAX_GPUS, default=0)
    count = res.integer("instanceCount", lo=1, hi=MAX_INSTANCES, default=1)
    volume = res.integer("volumeSizeGB", lo=0, hi=MAX_VOLUME_GB, default=0)
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
    clusters: list[str] = []
    for i, item in enumerate(value):
        path = f"targetClusters.{i}"
        if not isinstance(item, str):
            body.errors.add(path, f"Expected a string, got {json_type(item)}.")
        elif len(item) > 253 or not DNS1123_SUBDOMAIN_RE.match(item):
            body.errors.add(path, f"'{item}' is not a valid cluster name (lower-case DNS name).")
        elif item in clusters:
            body.errors.add(path, f"Cluster '{item}' is listed twice.")
        else:
            clusters.append(item)
    return clusters


def _run_policy(body: _Reader) -> dict[str, Any]:
    rp = body.child("runPolicy")
    if rp is None:
        return {}
    rp.reject_unknown(RUN_POLICY_KEYS)
    result: dict[str, Any] = {}
    for key, lo, hi in (
        ("activeDeadlineSeconds", 1, INT32_MAX),
        ("backoffLimit", 0, 100),
        ("ttlSecondsAfterFinished", 0, INT32_MAX),
    ):
        value = rp.integer(key, lo=lo, hi=hi)
        if value is not None:
            result[key] = value
    policy = rp.string("cleanPodPolicy")
    if policy is not None:
        if policy in CLEAN_POD_POLICIES:
            result["cleanPodPolicy"] = policy
        else:
            rp.errors.add(
                "runPolicy.cleanPodPolicy", f"Must be one of: {', '.join(CLEAN_POD_POLICIES)}."
            )
    return result


def label_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a user label key, or None. Kubernetes' qualified-name rules,
    plus the prefixes reserved for the platform and the systems it drives."""
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not LABEL_NAME_RE.match(name):
        return (
            "The name part must be at most 63 characters: letters, digits, '-', '_' and "
            "'.', starting and ending with a letter or digit."
        )
    if "/" in key:
        if not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN_RE.match(prefix):
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
    if len(value) > MAX_LABELS:
        body.errors.add("labels", f"At most {MAX_LABELS} labels.")
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
        if val and (len(val) > 63 or not LABEL_NAME_RE.match(val)):
            body.errors.add(
                path,
                "Values are at most 63 characters: letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit (or empty).",
            )
            continue
        labels[key] = val
    return labels
