"""The frameworks a job can run on: hyperparameter schema and Kubernetes workload shape.

One module per framework; this package is the registry. Pure: no DB, no network.

``FRAMEWORKS`` keeps the order the pages show them in. Several frameworks may share a
workload kind (LightGBM runs as an XGBoostJob); ``workload_kinds()`` lists each kind once,
which is what the status sync needs to LIST them in bulk.
"""

from __future__ import annotations

from jobs.frameworks import (
    deepspeed,
    horovod,
    jax,
    lightgbm,
    pytorch,
    tensorflow,
    trainjob,
    xgboost,
)
from jobs.frameworks.base import Framework, Param, Resources

__all__ = [
    "FRAMEWORKS",
    "Framework",
    "Param",
    "Resources",
    "framework_names",
    "get_framework",
    "job_workload_kind",
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
    """(group, version, plural, kind) of every workload kind in use, each once: the
    Kubeflow v1 kinds, then Trainer v2's TrainJob (every framework under TRAINING_BACKEND
    v2)."""
    seen: dict[tuple[str, str, str, str], None] = {}
    for fw in FRAMEWORKS.values():
        seen.setdefault((fw.group, fw.version, fw.plural, fw.kind), None)
    seen.setdefault(trainjob.workload_kind(), None)
    return list(seen)


def job_workload_kind(framework: str, backend: str) -> str:
    """The kind a job's workload has: its framework's v1 kind, or TrainJob under v2."""
    if backend == trainjob.BACKEND_V2:
        return trainjob.KIND
    return FRAMEWORKS[framework].kind
