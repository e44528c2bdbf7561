"""The compatibility contract, pinned as literals: the tests compare the platform against
these, never against the product's own constants (which could drift along with a bug)."""

from __future__ import annotations

import copy
from typing import Any

# The request body from the original README's "Using API" section, verbatim.
_README_EXAMPLE: dict[str, Any] = {
    "jobName": "xgboost-training",
    "namespace": "default",
    "algorithm": {"source": "default", "algorithmName": "xgboost"},
    "resources": {
        "instanceResources": {"cpuCores": 4, "memoryGiB": 8, "gpuCount": 0},
        "instanceCount": 1,
        "volumeSizeGB": 20,
    },
    "hyperparameters": {
        "xgboost": {"num_round": 100, "eta": 0.3, "max_depth": 6, "objective": "binary:logistic"}
    },
    "targetClusters": ["member-cluster-1"],
}


def readme_example(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the README example, with top-level keys replaced by ``changes``."""
    body = copy.deepcopy(_README_EXAMPLE)
    body.update(changes)
    return body
