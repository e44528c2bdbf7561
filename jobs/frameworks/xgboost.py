"""XGBoost on a Kubeflow XGBoostJob: Master 1 + Worker n-1 (Rabit tracker on the Master).

The schema follows the SageMaker built-in XGBoost algorithm's hyperparameters (names,
ranges, defaults; ``num_round`` required, ``num_class`` required for ``multi:*``), checked
against XGBoost's own parameter documentation. Where SageMaker's range is looser than what
XGBoost accepts (``subsample`` and ``colsample_bytree`` of 0), XGBoost's range wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jobs.frameworks.base import Framework, Param, Resources
from jobs.frameworks.workloads import XGBOOSTJOB

OBJECTIVES = tuple(
    """reg:squarederror reg:squaredlogerror reg:logistic reg:pseudohubererror
    reg:absoluteerror reg:quantileerror reg:gamma reg:tweedie binary:logistic binary:logitraw
    binary:hinge multi:softmax multi:softprob count:poisson survival:cox survival:aft rank:ndcg
    rank:map rank:pairwise""".split()
)
MULTICLASS = frozenset({"multi:softmax", "multi:softprob"})

EVAL_METRICS = frozenset(
    """rmse rmsle mae mape mphe logloss error merror mlogloss auc aucpr ndcg map pre
    poisson-nloglik gamma-nloglik cox-nloglik gamma-deviance tweedie-nloglik aft-nloglik
    interval-regression-accuracy""".split()
)
# error@0.6, ndcg@10, map@5-, ndcg-: a threshold or cut-off, and the "empty list scores 0" dash.
# Applied with fullmatch; [0-9] because \d would also take non-ASCII digits.
_METRIC_SUFFIX_RE = re.compile(
    r"(?P<base>error|ndcg|map|pre)(@(?P<at>[0-9]+(\.[0-9]+)?))?(?P<dash>-)?"
)


def metric_problem(token: str) -> str | None:
    if token in EVAL_METRICS:
        return None
    m = _METRIC_SUFFIX_RE.fullmatch(token)
    if m and (m["at"] or m["dash"]) and not (m["base"] == "error" and m["dash"]):
        return None
    return f"'{token}' is not an XGBoost evaluation metric."


def _rules(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    objective = values.get("objective")
    if objective in MULTICLASS:
        if "num_class" not in values:
            problems.append(("num_class", f"Required when objective is {objective}."))
    elif "num_class" in values and objective is not None:
        problems.append(
            (
                "num_class",
                "Only applies to the multi:softmax and multi:softprob objectives.",
            )
        )
    # SageMaker: "0 indicates no limit. A limit is required when grow_policy=depthwise";
    # lossguide grows by leaves and may go unbounded in depth.
    if values.get("max_depth") == 0 and values.get("grow_policy", "depthwise") != "lossguide":
        problems.append(
            (
                "max_depth",
                "0 (no limit) needs grow_policy 'lossguide'; depthwise growth needs a depth limit.",
            )
        )
    if "grow_policy" in values and values.get("tree_method") == "exact":
        problems.append(("grow_policy", "Not used by tree_method 'exact'."))
    if "tweedie_variance_power" in values and objective != "reg:tweedie":
        problems.append(("tweedie_variance_power", "Only applies to objective reg:tweedie."))
    for name in ("rate_drop", "skip_drop"):
        if name in values and values.get("booster") != "dart":
            problems.append((name, "Only applies to booster 'dart'."))
    metric = values.get("eval_metric")
    if metric is not None:
        tokens = [t.strip() for t in metric.split(",")]
        bad = [p for p in (metric_problem(t) for t in tokens if t) if p]
        if bad or not all(tokens):
            problems.append(("eval_metric", " ".join(bad) or "Empty metric name in the list."))
    return problems


FRAMEWORK = Framework(
    name="xgboost",
    label="XGBoost",
    **XGBOOSTJOB,
    params=(
        Param(
            "num_round",
            "int",
            None,
            required=True,
            min=1,
            max=1_000_000,
            help="Number of boosting rounds.",
        ),
        Param(
            "objective",
            "choice",
            "reg:squarederror",
            choices=OBJECTIVES,
            help="Learning task and objective.",
        ),
        Param(
            "num_class",
            "int",
            None,
            min=2,
            max=100_000,
            help="Number of classes; required for multi:softmax and multi:softprob.",
        ),
        Param(
            "eta",
            "float",
            0.3,
            min=0,
            max=1,
            help="Step size shrinkage applied after each boosting step (learning rate).",
        ),
        Param(
            "max_depth",
            "int",
            6,
            min=0,
            max=1_000,
            help="Maximum tree depth; 0 = no limit (only with grow_policy lossguide).",
        ),
        Param(
            "min_child_weight",
            "float",
            1.0,
            min=0,
            help="Minimum sum of instance weight (hessian) needed in a child.",
        ),
        Param("gamma", "float", 0.0, min=0, help="Minimum loss reduction to split a leaf further."),
        Param(
            "max_delta_step",
            "int",
            0,
            min=0,
            help="Maximum delta step of each leaf output; 0 = no constraint.",
        ),
        Param(
            "subsample",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of the training rows sampled for each tree.",
        ),
        Param(
            "colsample_bytree",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of the columns sampled for each tree.",
        ),
        Param(
            "colsample_bylevel",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of the columns sampled for each depth level.",
        ),
        Param(
            "colsample_bynode",
            "float",
            1.0,
            min=0,
            max=1,
            min_exclusive=True,
            help="Fraction of the columns sampled for each split.",
        ),
        Param("lambda", "float", 1.0, min=0, help="L2 regularization on the weights."),
        Param("alpha", "float", 0.0, min=0, help="L1 regularization on the weights."),
        Param(
            "scale_pos_weight",
            "float",
            1.0,
            min=0,
            min_exclusive=True,
            help="Weight of the positive class, e.g. sum(negative) / sum(positive).",
        ),
        Param(
            "base_score",
            "float",
            None,
            help="Initial prediction score (global bias); estimated from the data when unset.",
        ),
        Param(
            "booster",
            "choice",
            "gbtree",
            choices=("gbtree", "gblinear", "dart"),
            help="Tree booster (gbtree, dart) or linear booster.",
        ),
        Param(
            "tree_method",
            "choice",
            "auto",
            choices=("auto", "exact", "approx", "hist", "gpu_hist"),
            help="Tree construction algorithm.",
        ),
        Param(
            "grow_policy",
            "choice",
            None,
            choices=("depthwise", "lossguide"),
            help="How new nodes are added (hist/approx only); depthwise when unset.",
        ),
        Param("max_leaves", "int", None, min=0, help="Maximum number of leaves; 0 = no limit."),
        Param(
            "max_bin",
            "int",
            None,
            min=2,
            help="Maximum number of histogram bins (hist); 256 when unset.",
        ),
        Param(
            "eval_metric",
            "str",
            None,
            help="Validation metric(s), comma-separated (e.g. auc,logloss); by objective "
            "when unset.",
        ),
        Param(
            "early_stopping_rounds",
            "int",
            None,
            min=1,
            help="Stop when the validation metric has not improved for this many rounds.",
        ),
        Param(
            "tweedie_variance_power",
            "float",
            None,
            min=1,
            max=2,
            min_exclusive=True,
            max_exclusive=True,
            help="Variance power of reg:tweedie (1.5 when unset).",
        ),
        Param(
            "rate_drop", "float", None, min=0, max=1, help="Dropout rate of previous trees (dart)."
        ),
        Param(
            "skip_drop",
            "float",
            None,
            min=0,
            max=1,
            help="Probability of skipping dropout in an iteration (dart).",
        ),
        Param("seed", "int", 0, min=0, max=2**31 - 1, help="Random number seed."),
        Param("verbosity", "int", 1, min=0, max=3, help="0 silent, 1 warning, 2 info, 3 debug."),
    ),
    rules=(_rules,),
)
