"""Hyperparameters shared by the deep-learning frameworks (TensorFlow, PyTorch, JAX, Horovod).

Each framework lists its own optimizers; the names are the ones a practitioner types into
the library (``adamw``, ``rmsprop``), lower case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.frameworks.base import Param, Resources

# Optimizers that have a momentum term; for the others a momentum value would be ignored
# silently by most training scripts, which hides a mistake.
MOMENTUM_OPTIMIZERS = frozenset({"sgd", "rmsprop"})


def epochs(default: int = 10) -> Param:
    return Param(
        "epochs", "int", default, min=1, max=100_000, help="Full passes over the training data."
    )


def batch_size(default: int = 64, help: str = "Examples per step on each process.") -> Param:
    return Param("batch_size", "int", default, min=1, max=1_000_000, help=help)


def learning_rate(default: float) -> Param:
    return Param(
        "learning_rate",
        "float",
        default,
        min=0,
        max=10,
        min_exclusive=True,
        help="Initial step size of the optimizer.",
    )


def optimizer(choices: tuple[str, ...], default: str) -> Param:
    return Param("optimizer", "choice", default, choices=choices, help="Optimization algorithm.")


def momentum() -> Param:
    return Param(
        "momentum",
        "float",
        None,
        min=0,
        max=1,
        max_exclusive=True,
        help="Momentum factor; only for the sgd and rmsprop optimizers.",
    )


def weight_decay() -> Param:
    return Param("weight_decay", "float", 0.0, min=0, max=1, help="L2 penalty on the weights.")


def seed() -> Param:
    return Param(
        "seed",
        "int",
        None,
        min=0,
        max=2**32 - 1,
        help="Random seed for reproducible runs; random when not set.",
    )


def momentum_rule(values: Mapping[str, Any], resources: Resources | None) -> list[tuple[str, str]]:
    if "momentum" in values and values.get("optimizer") not in MOMENTUM_OPTIMIZERS:
        return [
            (
                "momentum",
                f"Only applies to the sgd and rmsprop optimizers, not '{values.get('optimizer')}'.",
            )
        ]
    return []
