"""Horovod on an mpi-operator MPIJob (v2beta1): Launcher 1 + Worker n.

The launcher runs ``mpirun`` over ``n * slots_per_worker`` processes; the workers only run
sshd. ``slots_per_worker`` becomes the MPIJob's ``slotsPerWorker``; the rest are the usual
trainer settings plus Horovod's allreduce options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.frameworks import _common as c
from jobs.frameworks.base import Framework, Param, Resources
from jobs.frameworks.workloads import MPIJOB


def _rules(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    # hvd.DistributedOptimizer refuses a predivide factor with Adasum.
    if values.get("use_adasum") and values.get("gradient_predivide_factor", 1.0) != 1.0:
        problems.append(("gradient_predivide_factor", "Must be 1 when use_adasum is true."))
    slots = values.get("slots_per_worker")
    if resources is not None and resources.gpu_count > 0 and slots is not None:
        # One process per GPU: more slots than GPUs makes processes share a device.
        if slots > resources.gpu_count:
            problems.append(
                (
                    "slots_per_worker",
                    f"Must not exceed the {resources.gpu_count} GPU(s) of each instance "
                    "(one process per GPU).",
                )
            )
    return problems


FRAMEWORK = Framework(
    name="horovod",
    label="Horovod",
    **MPIJOB,
    params=(
        Param(
            "slots_per_worker",
            "int",
            1,
            min=1,
            max=128,
            help="Training processes per worker instance (usually its GPU count).",
        ),
        c.epochs(),
        c.batch_size(help="Examples per step on each process."),
        c.learning_rate(0.01),
        c.optimizer(("sgd", "adam", "adamw", "rmsprop", "adagrad"), "sgd"),
        c.momentum(),
        c.weight_decay(),
        Param(
            "fp16_allreduce", "bool", False, help="Compress gradients to float16 for the allreduce."
        ),
        Param(
            "use_adasum", "bool", False, help="Combine gradients with Adasum instead of averaging."
        ),
        Param(
            "gradient_predivide_factor",
            "float",
            1.0,
            min=0,
            max=1_000,
            min_exclusive=True,
            help="Divide gradients by this before the allreduce and by size/factor after.",
        ),
        Param(
            "backward_passes_per_step",
            "int",
            1,
            min=1,
            max=1_000,
            help="Local gradient accumulation steps before each allreduce.",
        ),
        c.seed(),
    ),
    rules=(c.momentum_rule, _rules),
)
