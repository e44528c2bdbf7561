"""DeepSpeed on an mpi-operator MPIJob (v2beta1): Launcher 1 + Worker n, one process per GPU.

Names are the DeepSpeed config's (``train_micro_batch_size_per_gpu``, ``zero_stage`` for
``zero_optimization.stage``, ``gradient_clipping``...), so a training script can map them
onto its ds_config one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.frameworks import _common as c
from jobs.frameworks.base import Framework, Param, Resources
from jobs.frameworks.workloads import MPIJOB


def _rules(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if values.get("fp16") and values.get("bf16"):
        problems.append(("bf16", "fp16 and bf16 cannot both be enabled; pick one."))
    stage = values.get("zero_stage", 0)
    offload_opt = values.get("offload_optimizer", "none")
    offload_param = values.get("offload_param", "none")
    # DeepSpeed's config reference: optimizer offload is valid for ZeRO stages 1-3, parameter
    # offload only with stage 3, and NVMe (ZeRO-Infinity) needs stage 3.
    if offload_opt != "none" and stage < 1:
        problems.append(("offload_optimizer", "Needs zero_stage 1, 2 or 3."))
    elif offload_opt == "nvme" and stage != 3:
        problems.append(("offload_optimizer", "NVMe offload needs zero_stage 3."))
    if offload_param != "none" and stage != 3:
        problems.append(("offload_param", "Needs zero_stage 3."))
    if resources is not None and resources.volume_size_gb == 0:
        for name, value in (("offload_optimizer", offload_opt), ("offload_param", offload_param)):
            if value == "nvme":
                problems.append((name, "NVMe offload needs a volume (volumeSizeGB > 0)."))
    return problems


FRAMEWORK = Framework(
    name="deepspeed",
    label="DeepSpeed",
    **MPIJOB,
    params=(
        c.epochs(3),
        Param(
            "train_micro_batch_size_per_gpu",
            "int",
            8,
            min=1,
            max=65_536,
            help="Batch size of one forward/backward pass on one GPU.",
        ),
        Param(
            "gradient_accumulation_steps",
            "int",
            1,
            min=1,
            max=65_536,
            help="Micro-batches accumulated before each optimizer step.",
        ),
        c.learning_rate(0.0001),
        Param(
            "optimizer",
            "choice",
            "adamw",
            choices=("adam", "adamw", "lamb", "onebitadam"),
            help="DeepSpeed optimizer type.",
        ),
        c.weight_decay(),
        Param(
            "zero_stage",
            "int",
            0,
            min=0,
            max=3,
            help="ZeRO stage: 0 off, 1 optimizer states, 2 + gradients, 3 + parameters.",
        ),
        Param(
            "offload_optimizer",
            "choice",
            "none",
            choices=("none", "cpu", "nvme"),
            help="Offload optimizer state (ZeRO stage ≥ 1; nvme needs stage 3).",
        ),
        Param(
            "offload_param",
            "choice",
            "none",
            choices=("none", "cpu", "nvme"),
            help="Offload parameters (ZeRO stage 3 only).",
        ),
        Param("fp16", "bool", False, help="Mixed precision with float16 and loss scaling."),
        Param("bf16", "bool", False, help="Mixed precision with bfloat16 (not with fp16)."),
        Param(
            "gradient_clipping",
            "float",
            1.0,
            min=0,
            help="Clip gradients to this global norm; 0 disables clipping.",
        ),
        Param("steps_per_print", "int", 10, min=1, help="Log progress every N steps."),
        c.seed(),
    ),
    rules=(_rules,),
)
