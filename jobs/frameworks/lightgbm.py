"""LightGBM on a Kubeflow XGBoostJob (Master 1 + Worker n-1) with a LightGBM image.

The training-operator has no LightGBM kind; its XGBoostJob injects MASTER_ADDR, MASTER_PORT,
WORKER_ADDRS, WORKER_PORT, WORLD_SIZE and RANK into every pod, from which the entrypoint
writes LightGBM's machine list (``num_machines`` = WORLD_SIZE). See ``jobs.manifests`` for
what the container is told. Names, ranges and defaults follow LightGBM's Parameters page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.frameworks.base import Framework, Param, Resources
from jobs.frameworks.workloads import XGBOOSTJOB

OBJECTIVES = tuple(
    """regression regression_l1 huber fair poisson quantile mape gamma tweedie binary
    multiclass multiclassova cross_entropy cross_entropy_lambda lambdarank rank_xendcg""".split()
)
MULTICLASS = frozenset({"multiclass", "multiclassova"})

# Metric names and the aliases LightGBM documents for them.
METRICS = frozenset(
    """l1 mae mean_absolute_error regression_l1 l2 mse mean_squared_error regression
    regression_l2 rmse l2_root root_mean_squared_error quantile mape
    mean_absolute_percentage_error huber fair poisson gamma gamma_deviance tweedie ndcg
    lambdarank rank_xendcg xendcg xe_ndcg xe_ndcg_mart xendcg_mart map mean_average_precision
    auc average_precision binary_logloss binary binary_error auc_mu multi_logloss multiclass
    softmax multiclassova multiclass_ova ova ovr multi_error cross_entropy xentropy
    cross_entropy_lambda xentlambda kullback_leibler kldiv None na null custom""".split()
)


def _rules(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    objective = values.get("objective")
    if objective in MULTICLASS and "num_class" not in values:
        problems.append(("num_class", f"Required when objective is {objective}."))
    elif objective not in MULTICLASS and "num_class" in values:
        problems.append(
            ("num_class", "Only applies to the multiclass and multiclassova objectives.")
        )
    bagging_on = values.get("bagging_freq", 0) > 0
    if values.get("bagging_fraction", 1.0) < 1.0 and not bagging_on:
        # LightGBM ignores bagging_fraction silently unless bagging_freq > 0.
        problems.append(("bagging_fraction", "Takes effect only with bagging_freq > 0."))
    if values.get("boosting") == "rf":
        # LightGBM refuses random forest mode without row or column sub-sampling.
        sampled_rows = bagging_on and values.get("bagging_fraction", 1.0) < 1.0
        if not sampled_rows and values.get("feature_fraction", 1.0) >= 1.0:
            problems.append(
                (
                    "boosting",
                    "'rf' needs bagging (bagging_freq > 0 and bagging_fraction < 1) "
                    "or feature_fraction < 1.",
                )
            )
    if "drop_rate" in values and values.get("boosting") != "dart":
        problems.append(("drop_rate", "Only applies to boosting 'dart'."))
    metric = values.get("metric")
    if metric is not None:
        tokens = [t.strip() for t in metric.split(",")]
        bad = [t for t in tokens if t not in METRICS]
        if bad:
            problems.append(
                (
                    "metric",
                    f"Not a LightGBM metric: {', '.join(repr(t) for t in bad)}.",
                )
            )
    return problems


FRAMEWORK = Framework(
    name="lightgbm",
    label="LightGBM",
    # LightGBM runs as an XGBoostJob (its image builds the machine list from its env).
    **XGBOOSTJOB,
    params=(
        Param(
            "num_iterations",
            "int",
            100,
            min=1,
            max=1_000_000,
            help="Number of boosting iterations (trees per class).",
        ),
        Param(
            "learning_rate", "float", 0.1, min=0, max=1, min_exclusive=True, help="Shrinkage rate."
        ),
        Param(
            "num_leaves",
            "int",
            31,
            min=1,
            max=131_072,
            min_exclusive=True,
            help="Maximum leaves in one tree.",
        ),
        Param("max_depth", "int", -1, min=-1, max=1_000, help="Maximum tree depth; -1 = no limit."),
        Param(
            "objective",
            "choice",
            "regression",
            choices=OBJECTIVES,
            help="Learning task and objective.",
        ),
        Param(
            "num_class",
            "int",
            None,
            min=2,
            max=100_000,
            help="Number of classes; required for multiclass and multiclassova.",
        ),
        Param(
            "boosting",
            "choice",
            "gbdt",
            choices=("gbdt", "rf", "dart"),
            help="gbdt (gradient boosting), rf (random forest) or dart (dropouts).",
        ),
        Param(
            "bagging_fraction",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of rows sampled per bagging round (needs bagging_freq > 0).",
        ),
        Param("bagging_freq", "int", 0, min=0, help="Bag every k iterations; 0 disables bagging."),
        Param(
            "feature_fraction",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of features sampled per tree.",
        ),
        Param("min_data_in_leaf", "int", 20, min=0, help="Minimum number of rows in one leaf."),
        Param(
            "min_sum_hessian_in_leaf",
            "float",
            0.001,
            min=0,
            help="Minimum sum of hessians in one leaf.",
        ),
        Param("lambda_l1", "float", 0.0, min=0, help="L1 regularization."),
        Param("lambda_l2", "float", 0.0, min=0, help="L2 regularization."),
        Param("min_gain_to_split", "float", 0.0, min=0, help="Minimum gain to perform a split."),
        Param(
            "max_bin",
            "int",
            255,
            min=1,
            min_exclusive=True,
            help="Maximum number of bins feature values are bucketed in.",
        ),
        Param(
            "drop_rate", "float", None, min=0, max=1, help="Dropout rate (dart); 0.1 when unset."
        ),
        Param(
            "metric",
            "str",
            None,
            help="Evaluation metric(s), comma-separated (e.g. auc,binary_logloss); by "
            "objective when unset.",
        ),
        Param(
            "early_stopping_round",
            "int",
            None,
            min=1,
            help="Stop when a validation metric has not improved for this many rounds.",
        ),
        # LightGBM's own default is serial, which would leave every worker but one idle;
        # data-parallel is the usual choice when rows are spread across the instances. With
        # one instance (num_machines = 1) LightGBM trains serially whatever this says.
        Param(
            "tree_learner",
            "choice",
            "data",
            choices=("serial", "feature", "data", "voting"),
            help="Distributed learning algorithm: data-, feature- or voting-parallel.",
        ),
        Param(
            "seed",
            "int",
            None,
            min=0,
            max=2**31 - 1,
            help="Master seed for the other random seeds.",
        ),
        Param("verbosity", "int", 1, min=-1, max=2, help="-1 fatal, 0 warnings, 1 info, 2 debug."),
    ),
    rules=(_rules,),
)
