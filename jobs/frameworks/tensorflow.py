"""TensorFlow (Keras) on a Kubeflow TFJob: Chief 1 + Worker n-1, or a lone Worker when n = 1.

The training-operator writes TF_CONFIG into every pod; ``tf.distribute.MultiWorkerMirroredStrategy``
reads it, so the script needs no cluster arguments of its own.
"""

from __future__ import annotations

from jobs.frameworks import _common as c
from jobs.frameworks.base import Framework, Param
from jobs.frameworks.workloads import TFJOB

FRAMEWORK = Framework(
    name="tensorflow",
    label="TensorFlow",
    **TFJOB,
    params=(
        c.epochs(),
        c.batch_size(help="Global batch size, split across the replicas by the strategy."),
        c.learning_rate(0.001),
        c.optimizer(("adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam"), "adam"),
        c.momentum(),
        c.weight_decay(),
        Param(
            "steps_per_epoch",
            "int",
            None,
            min=1,
            help="Steps that make an epoch; one pass over the data when not set.",
        ),
        Param(
            "validation_split",
            "float",
            0.0,
            min=0,
            max=1,
            max_exclusive=True,
            help="Fraction of the training data held out for validation.",
        ),
        Param(
            "mixed_precision",
            "bool",
            False,
            help="Compute in float16 with float32 variables (Keras 'mixed_float16' policy).",
        ),
        c.seed(),
    ),
    rules=(c.momentum_rule,),
)
