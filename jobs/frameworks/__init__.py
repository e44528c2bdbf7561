"""The frameworks a job can run on: hyperparameter schema and Kubernetes workload shape.

One module per framework; this package is the registry. Pure: no DB, no network.

``FRAMEWORKS`` keeps the order the pages show them in. Several frameworks may share a
workload kind (LightGBM runs as an XGBoostJob); ``workload_kinds()`` lists each kind once,
which is what the status sync needs to LIST them in bulk.
"""

from __future__ import annotations

from jobs.frameworks import deepspeed, horovod, jax, lightgbm, pytorch, tensorflow, xgboost
from jobs.frameworks.base import Framework, Param, Resources

__all__ = [
    "FRAMEWORKS",
    "Framework",
    "Param",
    "Resources",
    "framework_names",
    "get_framework",
    "workload_kinds",
]

FRAMEWORKS: dict[str, Framework] = {
    fw.name: fw
    for fw in (
        xgboost.FRAMEWORK,
        lightgbm.FRAMEWORK,
        pytorch.FRAMEWORK,
        tensorflow.FRAMEWORK,
        jax.FRAMEWORK,
        horovod.FRAMEWORK,
        deepspeed.FRAMEWORK,
    )
}


def get_framework(name: str) -> Framework:
    """The framework called ``name``; KeyError for an unknown one."""
    return FRAMEWORKS[name]


def framework_names() -> list[str]:
    return list(FRAMEWORKS)


def workload_kinds() -> list[tuple[str, str, str, str]]:
    """(group, version, plural, kind) of every workload kind in use, each once."""
    seen: dict[tuple[str, str, str, str], None] = {}
    for fw in FRAMEWORKS.values():
        seen.setdefault((fw.group, fw.version, fw.plural, fw.kind), None)
    return list(seen)
