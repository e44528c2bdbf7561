"""parse_job_request: the original API's request body -> JobSpec, or every problem at once.
Pure: no DB."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.conf import settings

from jobs.exceptions import SpecError
from jobs.specs import JobSpec, label_key_problem, parse_job_request
from jobs.tests.contract import readme_example

README_EXAMPLE = readme_example()

IMAGES = {
    "tensorflow": "example/tf:1",
    "pytorch": "example/pytorch:1",
    "xgboost": "example/xgboost:1",
    "lightgbm": "example/lightgbm:1",
    "jax": "example/jax:1",
    "horovod": "example/horovod:1",
    "deepspeed": "example/deepspeed:1",
}


def body(**changes: Any) -> dict[str, Any]:
    """The README example with dotted-path changes; a value of DELETE removes the key."""
    data = copy.deepcopy(README_EXAMPLE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return data


DELETE = object()


def parse(data: Any) -> JobSpec:
    return parse_job_request(data, default_images=IMAGES)


def errors(data: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as exc:
        parse(data)
    return exc.value.fields


# --- the happy paths --------------------------------------------------------------------


def test_the_original_readme_example_parses():
    spec = parse(README_EXAMPLE)
    assert spec.name == "xgboost-training"
    assert spec.namespace == "default"
    assert spec.framework == "xgboost"
    assert spec.algorithm_source == "default"
    assert spec.algorithm_name == "xgboost"
    assert spec.image == "example/xgboost:1"
    assert spec.command == []
    assert (spec.cpu_cores, spec.memory_gib, spec.gpu_count) == (4.0, 8.0, 0)
    assert (spec.instance_count, spec.volume_size_gb) == (1, 20)
    assert spec.target_clusters == ["member-cluster-1"]
    assert spec.run_policy == {} and spec.labels == {}
    hp = spec.hyperparameters
    assert hp["num_round"] == 100 and hp["eta"] == 0.3 and hp["max_depth"] == 6
    assert hp["objective"] == "binary:logistic"
    assert hp["subsample"] == 1.0  # defaults filled


def test_the_image_comes_from_settings_when_no_map_is_given():
    spec = parse_job_request(README_EXAMPLE)
    assert spec.image == settings.DEFAULT_IMAGES["xgboost"]


def test_defaults_for_optional_fields():
    data = body(
        namespace=DELETE,
        targetClusters=DELETE,
        resources__volumeSizeGB=DELETE,
        resources__instanceCount=DELETE,
        resources__instanceResources__gpuCount=DELETE,
        algorithm__source=DELETE,
    )
    spec = parse(data)
    assert spec.namespace == "default"
    assert spec.target_clusters == []
    assert (spec.gpu_count, spec.instance_count, spec.volume_size_gb) == (0, 1, 0)
    assert spec.algorithm_source == "default"


@pytest.mark.parametrize("value", [None, ""])
def test_null_or_blank_namespace_means_default(value):
    assert parse(body(namespace=value)).namespace == "default"


def test_fractional_resources_are_kept():
    spec = parse(body(resources__instanceResources={"cpuCores": 0.5, "memoryGiB": 1.5}))
    assert (spec.cpu_cores, spec.memory_gib) == (0.5, 1.5)


def test_an_integral_float_is_an_integer_count():
    # JavaScript clients may send 2.0 for 2.
    assert parse(body(resources__instanceCount=2.0)).instance_count == 2


def test_framework_from_algorithm_framework():
    spec = parse(body(algorithm={"source": "default", "framework": "xgboost"}))
    assert spec.framework == "xgboost"
    assert spec.algorithm_name == "xgboost"


def test_a_custom_algorithm_keeps_its_own_name():
    spec = parse(
        body(
            algorithm={
                "source": "custom",
                "algorithmName": "iris-classifier",
                "framework": "xgboost",
                "image": "registry.example.com/team/iris:1",
            }
        )
    )
    assert spec.framework == "xgboost"
    assert spec.algorithm_name == "iris-classifier"


def test_framework_from_the_single_hyperparameters_key():
    spec = parse(body(algorithm={"source": "default"}))
    assert spec.framework == "xgboost"


def test_framework_without_algorithm_at_all():
    spec = parse(body(algorithm=DELETE))
    assert spec.framework == "xgboost"
    assert spec.algorithm_name == "xgboost"


def test_missing_hyperparameters_mean_defaults():
    spec = parse(body(algorithm={"algorithmName": "pytorch"}, hyperparameters=DELETE))
    assert spec.framework == "pytorch"
    assert spec.hyperparameters["epochs"] == 10


def test_custom_algorithm_with_image_command_and_extras():
    spec = parse(
        body(
            algorithm={
                "source": "custom",
                "algorithmName": "resnet50",
                "framework": "pytorch",
                "image": "registry.example.com:5000/team/resnet:2.1",
                "command": ["python", "/app/train.py"],
            },
            hyperparameters={"pytorch": {"epochs": 3, "dataset": "imagenet"}},
        )
    )
    assert spec.algorithm_source == "custom"
    assert spec.algorithm_name == "resnet50"
    assert spec.image == "registry.example.com:5000/team/resnet:2.1"
    assert spec.command == ["python", "/app/train.py"]
    assert spec.hyperparameters["dataset"] == "imagenet"
    assert spec.hyperparameters["epochs"] == 3


def test_custom_image_with_digest():
    image = "ghcr.io/org/trainer@sha256:" + "a" * 64
    spec = parse(body(algorithm={"source": "custom", "framework": "xgboost", "image": image}))
    assert spec.image == image


def test_run_policy_and_labels():
    spec = parse(
        body(
            runPolicy={
                "activeDeadlineSeconds": 3600,
                "backoffLimit": 2,
                "ttlSecondsAfterFinished": 0,
                "cleanPodPolicy": "All",
            },
            labels={"team": "vision", "testbed.mlplatform.io/outcome": "fail", "empty": ""},
        )
    )
    assert spec.run_policy == {
        "activeDeadlineSeconds": 3600,
        "backoffLimit": 2,
        "ttlSecondsAfterFinished": 0,
        "cleanPodPolicy": "All",
    }
    assert spec.labels == {"team": "vision", "testbed.mlplatform.io/outcome": "fail", "empty": ""}


def test_resources_reach_the_hyperparameter_rules():
    data = body(
        algorithm={"algorithmName": "pytorch"}, hyperparameters={"pytorch": {"backend": "nccl"}}
    )
    assert errors(data) == {
        "hyperparameters.pytorch.backend": ["nccl needs GPUs; use gloo, or ask for gpuCount ≥ 1."]
    }
    data["resources"]["instanceResources"]["gpuCount"] = 1
    assert parse(data).hyperparameters["backend"] == "nccl"


# --- every class of bad input: the right path and reason --------------------------------

REQUIRED = "This field is required."

BAD_INPUTS = [
    # top level
    ("unknown-top-level-key", body(jobname="x"), "jobname", "Unknown field."),
    ("missing-job-name", body(jobName=DELETE), "jobName", REQUIRED),
    ("null-job-name", body(jobName=None), "jobName", REQUIRED),
    ("empty-job-name", body(jobName=""), "jobName", REQUIRED),
    ("job-name-type", body(jobName=5), "jobName", "Expected a string, got integer."),
    ("job-name-upper-case", body(jobName="XGBoost"), "jobName", "lower-case letters"),
    ("job-name-starts-with-digit", body(jobName="1job"), "jobName", "starting with a letter"),
    ("job-name-trailing-dash", body(jobName="job-"), "jobName", "not ending"),
    ("job-name-underscore", body(jobName="my_job"), "jobName", "lower-case letters"),
    ("job-name-too-long", body(jobName="a" * 51), "jobName", "at most 50"),
    ("namespace-type", body(namespace=["a"]), "namespace", "Expected a string, got array."),
    ("namespace-invalid", body(namespace="Team_A"), "namespace", "namespace name"),
    ("namespace-too-long", body(namespace="a" * 64), "namespace", "namespace name"),
    # algorithm
    ("algorithm-type", body(algorithm="xgboost"), "algorithm", "Expected an object, got string."),
    (
        "algorithm-unknown-key",
        body(algorithm__version="1"),
        "algorithm.version",
        "Unknown field in algorithm.",
    ),
    (
        "source-invalid",
        body(algorithm__source="builtin"),
        "algorithm.source",
        "Must be 'default' or 'custom'.",
    ),
    ("source-type", body(algorithm__source=1), "algorithm.source", "Expected a string"),
    (
        "unknown-framework-name",
        body(algorithm__algorithmName="mxnet", hyperparameters=DELETE),
        "algorithm.algorithmName",
        "Unknown framework 'mxnet'. Valid: xgboost, lightgbm",
    ),
    (
        "unknown-framework-explicit",
        body(algorithm__framework="mxnet"),
        "algorithm.framework",
        "Unknown framework 'mxnet'.",
    ),
    (
        "framework-conflict",
        body(algorithm__framework="pytorch"),
        "algorithm.algorithmName",
        "but algorithm.framework is 'pytorch'",
    ),
    (
        "no-framework-at-all",
        body(algorithm={"source": "default"}, hyperparameters=DELETE),
        "algorithm.algorithmName",
        "Required: name the framework",
    ),
    (
        "algorithm-name-type",
        body(algorithm__algorithmName=["xgboost"]),
        "algorithm.algorithmName",
        "Expected a string, got array.",
    ),
    (
        "algorithm-name-too-long",
        body(algorithm__algorithmName="a" * 101, algorithm__framework="xgboost"),
        "algorithm.algorithmName",
        "at most 100",
    ),
    ("custom-needs-image", body(algorithm__source="custom"), "algorithm.image", REQUIRED),
    (
        "custom-blank-image",
        body(algorithm__source="custom", algorithm__image=""),
        "algorithm.image",
        REQUIRED,
    ),
    (
        "custom-bad-image",
        body(algorithm__source="custom", algorithm__image="Not An Image"),
        "algorithm.image",
        "Not a valid image reference",
    ),
    (
        "custom-image-type",
        body(algorithm__source="custom", algorithm__image=3),
        "algorithm.image",
        "Expected a string, got integer.",
    ),
    (
        "custom-unnamed-framework",
        body(
            algorithm={"source": "custom", "algorithmName": "mine", "image": "a/b:1"},
            hyperparameters=DELETE,
        ),
        "algorithm.framework",
        "Required for the custom algorithm 'mine'",
    ),
    (
        "default-with-image",
        body(algorithm__image="my/image:1"),
        "algorithm.image",
        "Only for source 'custom'",
    ),
    (
        "default-with-command",
        body(algorithm__command=["python"]),
        "algorithm.command",
        "Only for source 'custom'.",
    ),
    (
        "command-type",
        body(
            algorithm__source="custom",
            algorithm__image="a/b:1",
            algorithm__command="python train.py",
        ),
        "algorithm.command",
        "Expected an array of strings, got string.",
    ),
    (
        "command-empty",
        body(algorithm__source="custom", algorithm__image="a/b:1", algorithm__command=[]),
        "algorithm.command",
        "Must not be empty",
    ),
    (
        "command-item-type",
        body(
            algorithm__source="custom", algorithm__image="a/b:1", algorithm__command=["python", 3]
        ),
        "algorithm.command.1",
        "Expected a string, got integer.",
    ),
    # resources
    ("missing-resources", body(resources=DELETE), "resources", REQUIRED),
    ("resources-type", body(resources=[1]), "resources", "Expected an object, got array."),
    (
        "resources-unknown-key",
        body(resources__gpus=1),
        "resources.gpus",
        "Unknown field in resources.",
    ),
    (
        "missing-instance-resources",
        body(resources__instanceResources=DELETE),
        "resources.instanceResources",
        REQUIRED,
    ),
    (
        "instance-unknown-key",
        body(resources__instanceResources__diskGiB=1),
        "resources.instanceResources.diskGiB",
        "Unknown field",
    ),
    (
        "missing-cpu",
        body(resources__instanceResources__cpuCores=DELETE),
        "resources.instanceResources.cpuCores",
        REQUIRED,
    ),
    (
        "null-cpu",
        body(resources__instanceResources__cpuCores=None),
        "resources.instanceResources.cpuCores",
        REQUIRED,
    ),
    (
        "cpu-string",
        body(resources__instanceResources__cpuCores="4"),
        "resources.instanceResources.cpuCores",
        "Expected a number, got string.",
    ),
    (
        "cpu-bool",
        body(resources__instanceResources__cpuCores=True),
        "resources.instanceResources.cpuCores",
        "Expected a number, got boolean.",
    ),
    (
        "cpu-zero",
        body(resources__instanceResources__cpuCores=0),
        "resources.instanceResources.cpuCores",
        "Must be greater than 0.",
    ),
    (
        "cpu-negative",
        body(resources__instanceResources__cpuCores=-1),
        "resources.instanceResources.cpuCores",
        "Must be greater than 0.",
    ),
    (
        "cpu-too-many",
        body(resources__instanceResources__cpuCores=257),
        "resources.instanceResources.cpuCores",
        "Must be at most 256.",
    ),
    (
        "memory-string",
        body(resources__instanceResources__memoryGiB="8Gi"),
        "resources.instanceResources.memoryGiB",
        "Expected a number, got string.",
    ),
    (
        "memory-zero",
        body(resources__instanceResources__memoryGiB=0),
        "resources.instanceResources.memoryGiB",
        "Must be greater than 0.",
    ),
    (
        "memory-too-much",
        body(resources__instanceResources__memoryGiB=4096),
        "resources.instanceResources.memoryGiB",
        "Must be at most 2048.",
    ),
    (
        "gpu-float",
        body(resources__instanceResources__gpuCount=0.5),
        "resources.instanceResources.gpuCount",
        "Expected an integer, got number.",
    ),
    (
        "gpu-bool",
        body(resources__instanceResources__gpuCount=False),
        "resources.instanceResources.gpuCount",
        "Expected an integer, got boolean.",
    ),
    (
        "gpu-negative",
        body(resources__instanceResources__gpuCount=-1),
        "resources.instanceResources.gpuCount",
        "Must be at least 0.",
    ),
    (
        "gpu-too-many",
        body(resources__instanceResources__gpuCount=17),
        "resources.instanceResources.gpuCount",
        "Must be at most 16.",
    ),
    (
        "instances-zero",
        body(resources__instanceCount=0),
        "resources.instanceCount",
        "Must be at least 1.",
    ),
    (
        "instances-too-many",
        body(resources__instanceCount=129),
        "resources.instanceCount",
        "Must be at most 128.",
    ),
    (
        "instances-string",
        body(resources__instanceCount="2"),
        "resources.instanceCount",
        "Expected an integer, got string.",
    ),
    (
        "volume-negative",
        body(resources__volumeSizeGB=-5),
        "resources.volumeSizeGB",
        "Must be at least 0.",
    ),
    (
        "volume-too-big",
        body(resources__volumeSizeGB=10001),
        "resources.volumeSizeGB",
        "Must be at most 10000.",
    ),
    (
        "volume-float",
        body(resources__volumeSizeGB=1.5),
        "resources.volumeSizeGB",
        "Expected an integer, got number.",
    ),
    # hyperparameters
    (
        "hyperparameters-type",
        body(hyperparameters=["x"]),
        "hyperparameters",
        "Expected an object, got array.",
    ),
    (
        "hyperparameters-other-framework",
        body(hyperparameters={"xgboost": {"num_round": 1}, "pytorch": {}}),
        "hyperparameters.pytorch",
        "The job's framework is xgboost",
    ),
    (
        "hyperparameters-values-type",
        body(hyperparameters={"xgboost": [1]}),
        "hyperparameters.xgboost",
        "Expected an object, got array.",
    ),
    (
        "hyperparameter-string-for-int",
        body(hyperparameters__xgboost__num_round="100"),
        "hyperparameters.xgboost.num_round",
        "Expected an integer, got string.",
    ),
    (
        "hyperparameter-bool-for-int",
        body(hyperparameters__xgboost__max_depth=True),
        "hyperparameters.xgboost.max_depth",
        "Expected an integer, got boolean.",
    ),
    (
        "hyperparameter-out-of-range",
        body(hyperparameters__xgboost__eta=1.5),
        "hyperparameters.xgboost.eta",
        "Must be at most 1.",
    ),
    (
        "hyperparameter-unknown-built-in",
        body(hyperparameters__xgboost__learning_rat=0.1),
        "hyperparameters.xgboost.learning_rat",
        "Unknown XGBoost hyperparameter.",
    ),
    (
        "hyperparameter-required-missing",
        body(hyperparameters={"xgboost": {}}),
        "hyperparameters.xgboost.num_round",
        REQUIRED,
    ),
    (
        "hyperparameters-absent-required-still-reported",
        body(hyperparameters=DELETE),
        "hyperparameters.xgboost.num_round",
        REQUIRED,
    ),
    (
        "hyperparameter-cross-field",
        body(hyperparameters__xgboost__objective="multi:softmax"),
        "hyperparameters.xgboost.num_class",
        "Required when objective is multi:softmax.",
    ),
    # targetClusters
    (
        "clusters-type",
        body(targetClusters="member-cluster-1"),
        "targetClusters",
        "Expected an array of cluster names, got string.",
    ),
    (
        "clusters-item-type",
        body(targetClusters=["a", 1]),
        "targetClusters.1",
        "Expected a string, got integer.",
    ),
    (
        "clusters-item-invalid",
        body(targetClusters=["Member_1"]),
        "targetClusters.0",
        "is not a valid cluster name",
    ),
    (
        "clusters-duplicate",
        body(targetClusters=["a", "b", "a"]),
        "targetClusters.2",
        "Cluster 'a' is listed twice.",
    ),
    # runPolicy
    ("run-policy-type", body(runPolicy=5), "runPolicy", "Expected an object, got integer."),
    (
        "run-policy-unknown-key",
        body(runPolicy={"suspend": True}),
        "runPolicy.suspend",
        "Unknown field in runPolicy.",
    ),
    (
        "deadline-zero",
        body(runPolicy={"activeDeadlineSeconds": 0}),
        "runPolicy.activeDeadlineSeconds",
        "Must be at least 1.",
    ),
    (
        "deadline-string",
        body(runPolicy={"activeDeadlineSeconds": "1h"}),
        "runPolicy.activeDeadlineSeconds",
        "Expected an integer, got string.",
    ),
    (
        "backoff-negative",
        body(runPolicy={"backoffLimit": -1}),
        "runPolicy.backoffLimit",
        "Must be at least 0.",
    ),
    (
        "backoff-too-big",
        body(runPolicy={"backoffLimit": 101}),
        "runPolicy.backoffLimit",
        "Must be at most 100.",
    ),
    (
        "ttl-negative",
        body(runPolicy={"ttlSecondsAfterFinished": -1}),
        "runPolicy.ttlSecondsAfterFinished",
        "Must be at least 0.",
    ),
    (
        "clean-pod-policy",
        body(runPolicy={"cleanPodPolicy": "running"}),
        "runPolicy.cleanPodPolicy",
        "Must be one of: None, Running, All.",
    ),
    # labels
    ("labels-type", body(labels=["a=b"]), "labels", "Expected an object of string values"),
    (
        "label-value-type",
        body(labels={"team": 1}),
        "labels.team",
        "Expected a string, got integer.",
    ),
    ("label-value-invalid", body(labels={"team": "a b"}), "labels.team", "Values are at most 63"),
    (
        "label-value-too-long",
        body(labels={"team": "a" * 64}),
        "labels.team",
        "Values are at most 63",
    ),
    ("label-key-invalid", body(labels={"-team": "a"}), "labels.-team", "The name part"),
    (
        "label-key-bad-prefix",
        body(labels={"Example.COM/team": "a"}),
        "labels.Example.COM/team",
        "The prefix must be",
    ),
    (
        "label-reserved-mlplatform",
        body(labels={"mlplatform.io/job-id": "x"}),
        "labels.mlplatform.io/job-id",
        "The prefix 'mlplatform.io/' is reserved.",
    ),
    (
        "label-reserved-app",
        body(labels={"app.kubernetes.io/managed-by": "me"}),
        "labels.app.kubernetes.io/managed-by",
        "The prefix 'app.kubernetes.io/' is reserved.",
    ),
    (
        "label-reserved-kubeflow",
        body(labels={"training.kubeflow.org/job-name": "x"}),
        "labels.training.kubeflow.org/job-name",
        "is reserved",
    ),
    (
        "label-reserved-k8s",
        body(labels={"node.kubernetes.io/x": "y"}),
        "labels.node.kubernetes.io/x",
        "is reserved",
    ),
    (
        "too-many-labels",
        body(labels={f"l{i}": "v" for i in range(33)}),
        "labels",
        "At most 32 labels.",
    ),
]


@pytest.mark.parametrize(
    ("data", "path", "reason"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_names_the_path_and_the_reason(data, path, reason):
    fields = errors(data)
    assert path in fields, fields
    assert any(reason in r for r in fields[path]), fields[path]


@pytest.mark.parametrize("data", [None, [], "x", 3, True])
def test_the_body_must_be_an_object(data):
    with pytest.raises(SpecError) as exc:
        parse(data)
    assert list(exc.value.fields) == ["body"]
    assert exc.value.status_code == 400


def test_all_errors_are_collected_at_once():
    data = {
        "jobName": "Bad_Name",
        "namespace": "UPPER",
        "algorithm": {"source": "default", "algorithmName": "xgboost", "extra": 1},
        "resources": {
            "instanceResources": {"cpuCores": "4", "memoryGiB": -1, "gpuCount": True},
            "instanceCount": 0,
            "volumeSizeGB": "20",
        },
        "hyperparameters": {"xgboost": {"eta": 2, "objective": "binary"}},
        "targetClusters": ["ok", "Not OK"],
        "runPolicy": {"backoffLimit": "3"},
        "labels": {"mlplatform.io/x": "y"},
        "priority": "urgent",
        "tier": "gold",
    }
    fields = errors(data)
    assert set(fields) == {
        "jobName",
        "namespace",
        "algorithm.extra",
        "resources.instanceResources.cpuCores",
        "resources.instanceResources.memoryGiB",
        "resources.instanceResources.gpuCount",
        "resources.instanceCount",
        "resources.volumeSizeGB",
        "hyperparameters.xgboost.num_round",
        "hyperparameters.xgboost.eta",
        "hyperparameters.xgboost.objective",
        "targetClusters.1",
        "runPolicy.backoffLimit",
        "labels.mlplatform.io/x",
        "priority",
        "tier",
    }


def test_hyperparameter_rules_that_need_resources_wait_for_valid_resources():
    # With broken resources only the resource errors show, not a guess about nccl.
    data = body(
        algorithm={"algorithmName": "pytorch"},
        hyperparameters={"pytorch": {"backend": "nccl"}},
        resources__instanceResources__cpuCores="x",
    )
    assert set(errors(data)) == {"resources.instanceResources.cpuCores"}


def test_a_missing_default_image_is_reported():
    with pytest.raises(SpecError) as exc:
        parse_job_request(README_EXAMPLE, default_images={})
    assert "algorithm.algorithmName" in exc.value.fields


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("team", True),
        ("example.com/team", True),
        ("testbed.mlplatform.io/outcome", True),
        ("a.b-c_d", True),
        ("mlplatform.io/job-id", False),
        ("app.kubernetes.io/name", False),
        ("kubernetes.io/x", False),
        ("x.k8s.io/y", False),
        ("policy.karmada.io/z", False),
        ("/team", False),
        ("team/", False),
        ("a/b/c", False),
        ("t" * 64, False),
    ],
)
def test_label_keys(key, ok):
    assert (label_key_problem(key) is None) is ok


# --- every pattern matches the whole value ----------------------------------------------

CUSTOM = {
    "source": "custom",
    "algorithmName": "mine",
    "framework": "xgboost",
    "image": "registry.example.com/team/trainer:1.2",
}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (body(jobName="xgboost-training\n"), "jobName"),
        (body(namespace="default\n"), "namespace"),
        (body(algorithm={**CUSTOM, "image": "registry.example.com/team/trainer:1.2\n"}), None),
        (body(targetClusters=["member-cluster-1\n"]), "targetClusters.0"),
        (body(labels={"team\n": "vision"}), "labels.team\n"),
        (body(labels={"mlplatform.io\n/job-id": "x"}), "labels.mlplatform.io\n/job-id"),
        (body(labels={"team": "vision\n"}), "labels.team"),
        (
            body(hyperparameters={"xgboost": {"num_round": 10, "eval_metric": "error@0.5\n"}}),
            "hyperparameters.xgboost.eval_metric",
        ),
        (
            body(algorithm=CUSTOM, hyperparameters={"xgboost": {"num_round": 10, "extra\n": 1}}),
            "hyperparameters.xgboost.extra\n",
        ),
        (
            body(algorithm=CUSTOM, hyperparameters={"xgboost": {"num_round": 10, "x": "a\nb"}}),
            "hyperparameters.xgboost.x",
        ),
    ],
    ids=[
        "jobName",
        "namespace",
        "image",
        "cluster",
        "label-key",
        "label-prefix",
        "label-value",
        "hp-metric",
        "hp-extra-name",
        "hp-extra-value",
    ],
)
def test_a_trailing_newline_is_refused(data, path):
    fields = errors(data)
    assert (path or "algorithm.image") in fields, fields


@pytest.mark.parametrize(
    "value", ["member-cluster-1\n", "٣", "error@٣"], ids=["newline", "digit", "metric"]
)
def test_non_ascii_digits_and_newlines_are_not_names(value):
    assert "targetClusters.0" in errors(body(targetClusters=[value]))
    fields = errors(body(hyperparameters={"xgboost": {"num_round": 1, "eval_metric": value}}))
    assert "hyperparameters.xgboost.eval_metric" in fields


def test_label_keys_match_whole():
    assert label_key_problem("team\n") is not None
    assert label_key_problem("example.com\n/team") is not None


# --- contradictory requests are refused, not guessed at ---------------------------------


def test_a_default_algorithm_name_that_is_no_built_in_is_refused():
    # The hyperparameters' key names xgboost; the name must not be silently replaced by it.
    fields = errors(body(algorithm={"source": "default", "algorithmName": "my-model"}))
    assert set(fields) == {"algorithm.algorithmName"}
    assert "Unknown framework 'my-model'" in fields["algorithm.algorithmName"][0]
    assert "source 'custom'" in fields["algorithm.algorithmName"][0]


def test_a_default_algorithm_name_is_refused_even_with_a_framework():
    fields = errors(
        body(algorithm={"source": "default", "algorithmName": "iris", "framework": "xgboost"})
    )
    assert "algorithm.algorithmName" in fields


@pytest.mark.parametrize(
    ("algorithm", "named_by"),
    [
        ({"source": "default", "algorithmName": "xgboost"}, "algorithm.algorithmName"),
        ({"source": "default", "framework": "xgboost"}, "algorithm.framework"),
        ({**CUSTOM, "framework": "xgboost"}, "algorithm.framework"),
    ],
)
def test_a_framework_that_disagrees_with_the_hyperparameters_names_both(algorithm, named_by):
    fields = errors(body(algorithm=algorithm, hyperparameters={"pytorch": {"epochs": 3}}))
    assert named_by in fields and "hyperparameters.pytorch" in fields, fields
    assert "'pytorch'" in " ".join(fields[named_by])


def test_algorithm_name_and_framework_that_disagree_name_both():
    fields = errors(body(algorithm={**CUSTOM, "algorithmName": "pytorch"}))
    assert {"algorithm.algorithmName", "algorithm.framework"} <= set(fields)


def test_a_custom_algorithm_may_have_any_name():
    spec = parse(body(algorithm={**CUSTOM, "algorithmName": "my-model"}))
    assert (spec.framework, spec.algorithm_name) == ("xgboost", "my-model")


# --- input costs linear time ---------------------------------------------------------


def test_too_many_target_clusters_are_refused_whole():
    names = [f"c{i}" for i in range(350_000)]
    fields = errors(body(targetClusters=names))
    assert fields == {"targetClusters": ["At most 100 clusters. Got 350000."]}


def test_the_cluster_cap_is_inclusive_and_duplicates_still_count():
    assert len(parse(body(targetClusters=[f"c{i}" for i in range(100)])).target_clusters) == 100
    fields = errors(body(targetClusters=["a", "b", "a", "b"]))
    assert set(fields) == {"targetClusters.2", "targetClusters.3"}


def test_too_many_labels_are_refused_whole():
    fields = errors(body(labels={f"bad key {i}": 1 for i in range(10_000)}))
    assert fields == {"labels": ["At most 32 labels. Got 10000."]}


def test_too_many_hyperparameters_are_refused_whole():
    extras = {f"x{i}": i for i in range(50_000)}
    fields = errors(body(algorithm=CUSTOM, hyperparameters={"xgboost": extras}))
    assert list(fields) == ["hyperparameters.xgboost"]
    assert "Got 50000" in fields["hyperparameters.xgboost"][0]


def test_a_custom_algorithm_keeps_up_to_a_hundred_extras():
    extras = {f"x{i}": i for i in range(100)}
    spec = parse(body(algorithm=CUSTOM, hyperparameters={"xgboost": {"num_round": 1, **extras}}))
    assert spec.hyperparameters["x99"] == 99


def test_collected_problems_are_bounded_and_the_rest_counted():
    data = body(**{f"unknown{i}": 1 for i in range(100_000)})
    with pytest.raises(SpecError) as exc:
        parse(data)
    assert len(exc.value.fields) <= 200
    message, fields = exc.value.bounded()
    assert len(fields) == 50
    assert "more problems are not shown" in message
    assert str(100_000 - 50) in message


def test_bounded_errors_shorten_long_paths_and_reasons():
    error = SpecError({"x" * 10_000: ["y" * 10_000] * 20})
    message, fields = error.bounded()
    [(path, reasons)] = fields.items()
    assert len(path) <= 200 and len(reasons) == 5 and all(len(r) <= 1000 for r in reasons)
    assert "15 more problems" in message


def test_a_small_error_is_not_changed_by_bounding():
    error = SpecError({"jobName": ["This field is required."]})
    assert error.bounded() == (error.message, {"jobName": ["This field is required."]})


def test_a_long_bad_value_is_quoted_short():
    fields = errors(body(targetClusters=["X" * 100_000]))
    assert len(fields["targetClusters.0"][0]) < 200
    fields = errors(body(algorithm={"source": "default", "algorithmName": "x" * 100_000}))
    assert all(len(r) < 400 for r in fields["algorithm.algorithmName"])
