"""PyTorch DDP on a Kubeflow PyTorchJob: Master 1 + Worker n-1.

The training-operator sets MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK, which is all
``torch.distributed.init_process_group`` needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.frameworks import _common as c
from jobs.frameworks.base import Framework, Param, Resources
from jobs.frameworks.workloads import PYTORCHJOB


def _backend_rule(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    # NCCL is GPU-only: on a CPU instance init_process_group fails at start-up, long after
    # the job was accepted. Catch it at the door.
    if values.get("backend") == "nccl" and resources is not None and resources.gpu_count == 0:
        return [("backend", "nccl needs GPUs; use gloo, or ask for gpuCount ≥ 1.")]
    return []


FRAMEWORK = Framework(
    name="pytorch",
    label="PyTorch",
    **PYTORCHJOB,
    params=(
        c.epochs(),
        c.batch_size(),
        c.learning_rate(0.01),
        c.optimizer(("sgd", "adam", "adamw", "rmsprop", "adagrad"), "sgd"),
        c.momentum(),
        c.weight_decay(),
        Param(
            "lr_scheduler",
            "choice",
            "none",
            choices=("none", "step", "cosine", "exponential"),
            help="How the learning rate changes over the epochs.",
        ),
        Param(
            "gradient_clipping",
            "float",
            None,
            min=0,
            min_exclusive=True,
            help="Clip the gradients' global norm to this value; no clipping when not set.",
        ),
        Param(
            "backend",
            "choice",
            None,
            choices=("nccl", "gloo"),
            help="torch.distributed backend; the script picks (nccl on GPU) when not set.",
        ),
        Param("amp", "bool", False, help="Automatic mixed precision (torch.autocast)."),
        Param(
            "num_workers",
            "int",
            2,
            min=0,
            max=64,
            help="DataLoader worker processes per training process.",
        ),
        c.seed(),
    ),
    rules=(c.momentum_rule, _backend_rule),
)
