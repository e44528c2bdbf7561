"""Framework registry, replica layouts and hyperparameter schemas. Pure: no DB."""

from __future__ import annotations

import pytest

from jobs.exceptions import SpecError
from jobs.frameworks import FRAMEWORKS, Param, Resources, get_framework, workload_kinds
from jobs.models import Framework as FrameworkChoice

CPU = Resources(gpu_count=0, instance_count=1, volume_size_gb=0)
GPU4 = Resources(gpu_count=4, instance_count=2, volume_size_gb=0)


def errors_of(framework: str, values: dict, *, custom: bool = False, resources=None) -> dict:
    with pytest.raises(SpecError) as exc:
        get_framework(framework).validate_hyperparameters(
            values, custom=custom, resources=resources
        )
    return exc.value.fields


def valid(framework: str, values: dict, *, custom: bool = False, resources=None) -> dict:
    return get_framework(framework).validate_hyperparameters(
        values, custom=custom, resources=resources
    )


# --- registry --------------------------------------------------------------------------


def test_registry_matches_the_model_choices():
    assert set(FRAMEWORKS) == set(FrameworkChoice.values)


def test_get_framework_raises_key_error_for_unknown():
    with pytest.raises(KeyError):
        get_framework("mxnet")


def test_workload_kinds_lists_each_kind_once():
    kinds = workload_kinds()
    assert len(kinds) == len(set(kinds)) == 6
    assert ("kubeflow.org", "v1", "xgboostjobs", "XGBoostJob") in kinds
    assert ("trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob") in kinds
    assert ("kubeflow.org", "v2beta1", "mpijobs", "MPIJob") in kinds
    assert [k for k in kinds if k[3] == "XGBoostJob"] == [
        ("kubeflow.org", "v1", "xgboostjobs", "XGBoostJob")
    ]


@pytest.mark.parametrize(
    ("name", "kind", "api_version", "plural", "container", "port_name", "port"),
    [
        ("tensorflow", "TFJob", "kubeflow.org/v1", "tfjobs", "tensorflow", "tfjob-port", 2222),
        (
            "pytorch",
            "PyTorchJob",
            "kubeflow.org/v1",
            "pytorchjobs",
            "pytorch",
            "pytorchjob-port",
            23456,
        ),
        (
            "xgboost",
            "XGBoostJob",
            "kubeflow.org/v1",
            "xgboostjobs",
            "xgboost",
            "xgboostjob-port",
            9999,
        ),
        (
            "lightgbm",
            "XGBoostJob",
            "kubeflow.org/v1",
            "xgboostjobs",
            "xgboost",
            "xgboostjob-port",
            9999,
        ),
        ("jax", "JAXJob", "kubeflow.org/v1", "jaxjobs", "jax", "jaxjob-port", 6666),
        ("horovod", "MPIJob", "kubeflow.org/v2beta1", "mpijobs", "worker", None, None),
        ("deepspeed", "MPIJob", "kubeflow.org/v2beta1", "mpijobs", "worker", None, None),
    ],
)
def test_it_uses_the_operators_kind_container_and_port_names(
    name, kind, api_version, plural, container, port_name, port
):
    fw = get_framework(name)
    assert (fw.kind, fw.api_version, fw.plural) == (kind, api_version, plural)
    assert (fw.container_name, fw.port_name, fw.default_port) == (container, port_name, port)


# --- layouts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n", "layout"),
    [
        ("tensorflow", 1, [("Worker", 1)]),
        ("tensorflow", 2, [("Chief", 1), ("Worker", 1)]),
        ("tensorflow", 4, [("Chief", 1), ("Worker", 3)]),
        ("pytorch", 1, [("Master", 1)]),
        ("pytorch", 3, [("Master", 1), ("Worker", 2)]),
        ("xgboost", 1, [("Master", 1)]),
        ("xgboost", 5, [("Master", 1), ("Worker", 4)]),
        ("lightgbm", 2, [("Master", 1), ("Worker", 1)]),
        ("jax", 1, [("Worker", 1)]),
        ("jax", 4, [("Worker", 4)]),
        ("horovod", 1, [("Launcher", 1), ("Worker", 1)]),
        ("horovod", 3, [("Launcher", 1), ("Worker", 3)]),
        ("deepspeed", 2, [("Launcher", 1), ("Worker", 2)]),
    ],
)
def test_replica_layout(name, n, layout):
    assert get_framework(name).replica_layout(n) == layout


@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_layout_runs_one_training_process_group_per_instance(name):
    fw = get_framework(name)
    for n in (1, 2, 7, 128):
        trainers = sum(count for rtype, count in fw.replica_layout(n) if rtype != "Launcher")
        assert trainers == n


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "2"])
def test_layout_refuses_non_positive_or_non_int_counts(bad):
    with pytest.raises(ValueError):
        get_framework("pytorch").replica_layout(bad)


# --- Param -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "text"),
    [
        (Param("eta", "float", 0.3, min=0, max=1), "float in [0, 1], default 0.3"),
        (
            Param("subsample", "float", 1.0, min=0, max=1, min_exclusive=True),
            "float in (0, 1], default 1",
        ),
        (Param("n", "int", None, required=True, min=1), "int ≥ 1, required"),
        (Param("lr", "float", 0.001, min=0, min_exclusive=True), "float > 0, default 0.001"),
        (Param("x", "float", None, max=5, max_exclusive=True), "float < 5, optional"),
        (Param("b", "bool", False), "true/false, default false"),
        (Param("o", "choice", "a", choices=("a", "b")), "one of a, b; default a"),
        (Param("m", "str", None), "text, optional"),
        (Param("d", "int", -1, min=-1, max=1000), "int in [-1, 1000], default -1"),
    ],
)
def test_describe(param, text):
    assert param.describe() == text


@pytest.mark.parametrize(
    ("param", "value", "reason"),
    [
        (Param("n", "int", 1), "3", "Expected an integer, got string."),
        (Param("n", "int", 1), True, "Expected an integer, got boolean."),
        (Param("n", "int", 1), 3.0, "Expected an integer, got 3 (a number)."),
        (Param("n", "int", 1), 2.5, "Expected an integer, got number."),
        (Param("x", "float", 1.0), "0.3", "Expected a number, got string."),
        (Param("x", "float", 1.0), False, "Expected a number, got boolean."),
        (Param("x", "float", 1.0), float("nan"), "Expected a finite number."),
        (Param("b", "bool", False), 1, "Expected true or false, got integer."),
        (Param("b", "bool", False), "true", "Expected true or false, got string."),
        (Param("c", "choice", "a", choices=("a", "b")), "c", "Must be one of: a, b."),
        (Param("c", "choice", "a", choices=("a", "b")), 1, "Expected a string, got integer."),
        (Param("s", "str", None), "  ", "Must not be empty."),
        (Param("s", "str", None), ["a"], "Expected a string, got array."),
        (Param("n", "int", 1, min=1), 0, "Must be at least 1."),
        (Param("n", "int", 1, max=3), 4, "Must be at most 3."),
        (Param("x", "float", 1.0, min=0, min_exclusive=True), 0, "Must be greater than 0."),
        (Param("x", "float", 0.5, max=1, max_exclusive=True), 1, "Must be less than 1."),
    ],
)
def test_param_check_is_strict(param, value, reason):
    assert param.check(value) == (None, reason)


def test_an_int_is_a_fine_float_and_becomes_one():
    value, reason = Param("x", "float", 1.0, min=0, max=1).check(1)
    assert reason is None
    assert value == 1.0 and isinstance(value, float)


# --- validate_hyperparameters: general ------------------------------------------------


def test_it_fills_defaults_and_keeps_given_values():
    values = valid("xgboost", {"num_round": 100, "eta": 0.1})
    assert values["num_round"] == 100
    assert values["eta"] == 0.1
    assert values["max_depth"] == 6
    assert values["objective"] == "reg:squarederror"
    # Optional parameters without a default stay absent rather than becoming null.
    assert "num_class" not in values and "eval_metric" not in values


def test_null_means_default():
    assert valid("pytorch", {"epochs": None})["epochs"] == 10


def test_it_reports_a_missing_required_parameter():
    assert errors_of("xgboost", {}) == {
        "hyperparameters.xgboost.num_round": ["This field is required."]
    }


def test_it_reports_every_problem_at_once():
    fields = errors_of("xgboost", {"num_round": "100", "eta": 2, "objective": "foo"})
    assert set(fields) == {
        "hyperparameters.xgboost.num_round",
        "hyperparameters.xgboost.eta",
        "hyperparameters.xgboost.objective",
    }


def test_built_in_algorithms_refuse_unknown_keys_with_a_hint():
    fields = errors_of("xgboost", {"num_round": 10, "etaa": 0.1})
    assert fields == {
        "hyperparameters.xgboost.etaa": ["Unknown XGBoost hyperparameter. Did you mean 'eta'?"]
    }


def test_unknown_key_without_close_match_points_at_custom_algorithms():
    (reason,) = errors_of("pytorch", {"zzz": 1})["hyperparameters.pytorch.zzz"]
    assert "Custom algorithms" in reason


def test_custom_algorithms_keep_scalar_extras_as_given():
    values = valid(
        "pytorch", {"my_flag": True, "data_dir": "/opt/ml/data", "k": 3, "r": 0.5}, custom=True
    )
    assert values["my_flag"] is True
    assert values["data_dir"] == "/opt/ml/data"
    assert values["k"] == 3 and values["r"] == 0.5
    assert values["epochs"] == 10  # the schema still applies


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": 1}, "Expected a string, number or boolean, got object."),
        ([1], "Expected a string, number or boolean, got array."),
        (None, "Expected a string, number or boolean, got null."),
    ],
)
def test_custom_extras_must_be_scalars(value, reason):
    assert errors_of("jax", {"extra": value}, custom=True) == {
        "hyperparameters.jax.extra": [reason]
    }


@pytest.mark.parametrize("name", ["1abc", "has space", "semi;colon", "x" * 65, "--flag"])
def test_custom_extra_names_must_fit_a_command_line(name):
    fields = errors_of("jax", {name: 1}, custom=True)
    assert list(fields) == [f"hyperparameters.jax.{name}"]


def test_custom_algorithms_are_still_type_checked():
    assert errors_of("pytorch", {"epochs": "5"}, custom=True) == {
        "hyperparameters.pytorch.epochs": ["Expected an integer, got string."]
    }


@pytest.mark.parametrize("values", [[], "x", 3, None])
def test_values_must_be_an_object(values):
    fields = errors_of("jax", values)
    assert list(fields) == ["hyperparameters.jax"]


@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_defaults_are_valid_for_every_framework(name):
    fw = get_framework(name)
    required = {p.name: 10 for p in fw.params if p.required}
    values = fw.validate_hyperparameters(required, custom=False, resources=CPU)
    for p in fw.params:
        if p.default is not None:
            assert values[p.name] == p.default
            assert p.check(p.default)[1] is None, p.name


@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_every_param_has_help_and_a_sane_schema(name):
    for p in get_framework(name).params:
        assert p.help, p.name
        assert (p.type == "choice") == bool(p.choices), p.name
        if p.type == "choice" and p.default is not None:
            assert p.default in p.choices


# --- XGBoost -----------------------------------------------------------------------------


def test_xgboost_readme_example_is_valid():
    values = valid(
        "xgboost",
        {
            "num_round": 100,
            "eta": 0.3,
            "max_depth": 6,
            "objective": "binary:logistic",
        },
    )
    assert values["objective"] == "binary:logistic"


@pytest.mark.parametrize("objective", ["multi:softmax", "multi:softprob"])
def test_xgboost_multiclass_needs_num_class(objective):
    assert errors_of("xgboost", {"num_round": 1, "objective": objective}) == {
        "hyperparameters.xgboost.num_class": [f"Required when objective is {objective}."]
    }
    assert (
        valid("xgboost", {"num_round": 1, "objective": objective, "num_class": 3})["num_class"] == 3
    )


def test_xgboost_num_class_of_one_is_refused():
    fields = errors_of("xgboost", {"num_round": 1, "objective": "multi:softmax", "num_class": 1})
    assert fields == {"hyperparameters.xgboost.num_class": ["Must be at least 2."]}


def test_xgboost_num_class_without_multiclass_objective_is_a_mistake():
    fields = errors_of("xgboost", {"num_round": 1, "num_class": 3})
    assert "hyperparameters.xgboost.num_class" in fields


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("eta", -0.1),
        ("eta", 1.5),
        ("subsample", 0),
        ("subsample", 1.01),
        ("colsample_bytree", 0),
        ("max_depth", -1),
        ("min_child_weight", -1),
        ("gamma", -0.5),
        ("num_round", 0),
        ("lambda", -1),
        ("alpha", -1),
        ("verbosity", 4),
        ("tweedie_variance_power", 2.0),
        ("tree_method", "gpu"),
        ("booster", "linear"),
    ],
)
def test_xgboost_ranges(name, value):
    assert f"hyperparameters.xgboost.{name}" in errors_of("xgboost", {"num_round": 1, name: value})


def test_xgboost_max_depth_zero_needs_lossguide():
    assert "hyperparameters.xgboost.max_depth" in errors_of(
        "xgboost", {"num_round": 1, "max_depth": 0}
    )
    assert (
        valid(
            "xgboost",
            {"num_round": 1, "max_depth": 0, "grow_policy": "lossguide", "tree_method": "hist"},
        )["max_depth"]
        == 0
    )


@pytest.mark.parametrize(
    "metric", ["auc", "rmse,mae", "error@0.7", "ndcg@10", "map@5-", "ndcg-", "aucpr, logloss"]
)
def test_xgboost_eval_metric_accepts_documented_metrics(metric):
    assert valid("xgboost", {"num_round": 1, "eval_metric": metric})["eval_metric"] == metric


@pytest.mark.parametrize("metric", ["accuracy", "auc,", "rmse,f1", "error-"])
def test_xgboost_eval_metric_refuses_unknown_metrics(metric):
    assert "hyperparameters.xgboost.eval_metric" in errors_of(
        "xgboost", {"num_round": 1, "eval_metric": metric}
    )


def test_xgboost_dart_only_params():
    assert "hyperparameters.xgboost.rate_drop" in errors_of(
        "xgboost", {"num_round": 1, "rate_drop": 0.1}
    )
    valid("xgboost", {"num_round": 1, "booster": "dart", "rate_drop": 0.1})


def test_xgboost_tweedie_power_only_with_tweedie():
    assert "hyperparameters.xgboost.tweedie_variance_power" in errors_of(
        "xgboost", {"num_round": 1, "tweedie_variance_power": 1.2}
    )
    valid("xgboost", {"num_round": 1, "objective": "reg:tweedie", "tweedie_variance_power": 1.2})


def test_a_refused_value_is_not_judged_twice_by_the_rules():
    fields = errors_of("xgboost", {"num_round": 1, "objective": "multi:softmax", "num_class": "3"})
    assert fields == {"hyperparameters.xgboost.num_class": ["Expected an integer, got string."]}


# --- LightGBM ----------------------------------------------------------------------------


def test_lightgbm_defaults():
    values = valid("lightgbm", {})
    assert values["num_iterations"] == 100
    assert values["num_leaves"] == 31
    assert values["max_depth"] == -1
    assert values["boosting"] == "gbdt"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_leaves", 1),
        ("max_depth", -2),
        ("learning_rate", 0),
        ("bagging_fraction", 0),
        ("feature_fraction", 1.5),
        ("boosting", "goss"),
        ("objective", "softmax"),
        ("max_bin", 1),
    ],
)
def test_lightgbm_ranges(name, value):
    assert f"hyperparameters.lightgbm.{name}" in errors_of("lightgbm", {name: value})


def test_lightgbm_multiclass_needs_num_class():
    assert errors_of("lightgbm", {"objective": "multiclass"}) == {
        "hyperparameters.lightgbm.num_class": ["Required when objective is multiclass."]
    }
    valid("lightgbm", {"objective": "multiclassova", "num_class": 4})


def test_lightgbm_random_forest_needs_sampling():
    assert "hyperparameters.lightgbm.boosting" in errors_of("lightgbm", {"boosting": "rf"})
    valid("lightgbm", {"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.8})
    valid("lightgbm", {"boosting": "rf", "feature_fraction": 0.5})


def test_lightgbm_bagging_fraction_without_frequency_is_a_no_op():
    assert "hyperparameters.lightgbm.bagging_fraction" in errors_of(
        "lightgbm", {"bagging_fraction": 0.5}
    )


def test_lightgbm_metric_list():
    valid("lightgbm", {"metric": "binary_logloss,auc"})
    assert errors_of("lightgbm", {"metric": "auc,f1"}) == {
        "hyperparameters.lightgbm.metric": ["Not a LightGBM metric: 'f1'."]
    }


# --- deep learning frameworks -------------------------------------------------------------


@pytest.mark.parametrize("name", ["tensorflow", "pytorch", "jax", "horovod"])
def test_momentum_only_with_momentum_optimizers(name):
    fields = errors_of(name, {"optimizer": "adam", "momentum": 0.9})
    assert list(fields) == [f"hyperparameters.{name}.momentum"]
    assert valid(name, {"optimizer": "sgd", "momentum": 0.9})["momentum"] == 0.9


@pytest.mark.parametrize("name", ["tensorflow", "pytorch", "jax", "horovod"])
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("learning_rate", 0),
        ("optimizer", "lbfgs"),
        ("weight_decay", -0.1),
    ],
)
def test_deep_learning_ranges(name, param, value):
    assert f"hyperparameters.{name}.{param}" in errors_of(name, {param: value})


def test_pytorch_nccl_needs_a_gpu():
    assert errors_of("pytorch", {"backend": "nccl"}, resources=CPU) == {
        "hyperparameters.pytorch.backend": ["nccl needs GPUs; use gloo, or ask for gpuCount ≥ 1."]
    }
    valid("pytorch", {"backend": "nccl"}, resources=GPU4)
    # Without resources (the form's first pass) the rule is skipped.
    valid("pytorch", {"backend": "nccl"})


# --- Horovod -----------------------------------------------------------------------------


def test_horovod_slots_per_worker():
    assert valid("horovod", {})["slots_per_worker"] == 1
    assert "hyperparameters.horovod.slots_per_worker" in errors_of(
        "horovod", {"slots_per_worker": 0}
    )
    valid("horovod", {"slots_per_worker": 4}, resources=GPU4)
    fields = errors_of("horovod", {"slots_per_worker": 8}, resources=GPU4)
    assert list(fields) == ["hyperparameters.horovod.slots_per_worker"]
    # CPU-only: slots are processes on cores, not bounded by GPUs.
    valid("horovod", {"slots_per_worker": 8}, resources=CPU)


def test_horovod_adasum_refuses_a_predivide_factor():
    fields = errors_of("horovod", {"use_adasum": True, "gradient_predivide_factor": 2.0})
    assert fields == {
        "hyperparameters.horovod.gradient_predivide_factor": ["Must be 1 when use_adasum is true."]
    }


def test_horovod_fp16_allreduce_is_a_strict_bool():
    assert "hyperparameters.horovod.fp16_allreduce" in errors_of(
        "horovod", {"fp16_allreduce": "true"}
    )
    assert valid("horovod", {"fp16_allreduce": True})["fp16_allreduce"] is True


# --- DeepSpeed ---------------------------------------------------------------------------


def test_deepspeed_fp16_and_bf16_exclude_each_other():
    assert errors_of("deepspeed", {"fp16": True, "bf16": True}) == {
        "hyperparameters.deepspeed.bf16": ["fp16 and bf16 cannot both be enabled; pick one."]
    }
    valid("deepspeed", {"bf16": True})


@pytest.mark.parametrize("stage", [-1, 4, 1.5, "2"])
def test_deepspeed_zero_stage_range(stage):
    assert "hyperparameters.deepspeed.zero_stage" in errors_of("deepspeed", {"zero_stage": stage})


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"offload_optimizer": "cpu", "zero_stage": 0}, "offload_optimizer"),
        ({"offload_optimizer": "nvme", "zero_stage": 2}, "offload_optimizer"),
        ({"offload_param": "cpu", "zero_stage": 2}, "offload_param"),
    ],
)
def test_deepspeed_offload_needs_the_right_zero_stage(values, path):
    assert list(errors_of("deepspeed", values)) == [f"hyperparameters.deepspeed.{path}"]


@pytest.mark.parametrize(
    "values",
    [
        {"offload_optimizer": "cpu", "zero_stage": 1},
        {"offload_optimizer": "cpu", "zero_stage": 2},
        {"offload_optimizer": "nvme", "offload_param": "nvme", "zero_stage": 3},
    ],
)
def test_deepspeed_offload_accepted(values):
    valid("deepspeed", values)


def test_deepspeed_nvme_offload_needs_a_volume():
    no_volume = Resources(gpu_count=1, instance_count=1, volume_size_gb=0)
    fields = errors_of("deepspeed", {"offload_param": "nvme", "zero_stage": 3}, resources=no_volume)
    assert fields == {
        "hyperparameters.deepspeed.offload_param": [
            "NVMe offload needs a volume (volumeSizeGB > 0)."
        ]
    }
