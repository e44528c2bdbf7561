"""JAX on a Kubeflow JAXJob: n Workers, worker 0 coordinating.

The training-operator sets COORDINATOR_ADDRESS, NUM_PROCESSES and PROCESS_ID for
``jax.distributed.initialize()``. Optimizer names are optax's.
"""

from __future__ import annotations

from jobs.frameworks import _common as c
from jobs.frameworks.base import Framework, Param
from jobs.frameworks.workloads import JAXJOB

FRAMEWORK = Framework(
    name="jax",
    label="JAX",
    **JAXJOB,
    params=(
        c.epochs(),
        c.batch_size(help="Global batch size, sharded across the processes."),
        c.learning_rate(0.001),
        c.optimizer(("adam", "adamw", "sgd", "rmsprop", "adafactor", "lamb"), "adam"),
        c.momentum(),
        c.weight_decay(),
        Param(
            "warmup_steps",
            "int",
            0,
            min=0,
            help="Steps of linear learning-rate warm-up at the start.",
        ),
        Param(
            "dtype",
            "choice",
            "float32",
            choices=("float32", "bfloat16", "float16"),
            help="Computation dtype of the model.",
        ),
        # jax.random needs an explicit key, so the seed always has a value.
        Param("seed", "int", 0, min=0, max=2**32 - 1, help="Seed of the PRNG key."),
    ),
    rules=(c.momentum_rule,),
)
