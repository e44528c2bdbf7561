"""The Kubeflow Trainer v2 backend: one ``TrainJob`` kind for every framework, each
framework naming the ``ClusterTrainingRuntime`` that knows how to run it.

Trainer v2 ships runtimes for PyTorch, DeepSpeed, JAX and XGBoost; it has none for
TensorFlow, LightGBM or plain MPI (Horovod), so the platform ships those itself
(``k8s/trainer/cluster-training-runtimes.yaml``, installed next to Trainer's). Pure data:
``jobs.manifests`` builds the TrainJob from it, the status sync LISTs the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.karmada import plural

BACKEND_V1 = "v1"
BACKEND_V2 = "v2"
BACKENDS = (BACKEND_V1, BACKEND_V2)

GROUP = "trainer.kubeflow.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TrainJob"
PLURAL = plural(KIND)
RUNTIME_KIND = "ClusterTrainingRuntime"

# The replicated jobs of every runtime the platform uses: "node" runs the training
# processes; MPI runtimes add a "launcher" that runs mpirun (Trainer's own naming, kept
# in the platform's runtimes so that one patch shape fits all).
NODE = "node"
LAUNCHER = "launcher"
# The container the Trainer fills with the TrainJob's image, command, args, env and
# resources (the ancestor step "trainer" of each runtime).
TRAINER_CONTAINER = "node"
# Runtime patches are keyed by their manager: the platform owns this one.
PATCH_MANAGER = "mlplatform.io/platform"


@dataclass(frozen=True)
class Runtime:
    name: str
    # True for runtimes the platform ships (k8s/trainer/), False for Trainer's own.
    ours: bool
    # MPI runtimes: a launcher replicated job beside the nodes.
    mpi: bool = False
    # Trainer's DeepSpeed runtime runs the launcher as node 0 (runLauncherAsNode), so its
    # launcher takes the trainer image and resources; the platform's Horovod one does not.
    launcher_is_node: bool = False


RUNTIMES: dict[str, Runtime] = {
    "pytorch": Runtime("torch-distributed", ours=False),
    "deepspeed": Runtime("deepspeed-distributed", ours=False, mpi=True, launcher_is_node=True),
    "jax": Runtime("jax-distributed", ours=False),
    "xgboost": Runtime("xgboost-distributed", ours=False),
    "horovod": Runtime("mlplatform-horovod", ours=True, mpi=True),
    "tensorflow": Runtime("mlplatform-tensorflow", ours=True),
    "lightgbm": Runtime("mlplatform-lightgbm", ours=True),
}


def runtime_for(framework: str) -> Runtime:
    """The runtime a framework's TrainJob references; KeyError for an unknown framework."""
    return RUNTIMES[framework]


def workload_kind() -> tuple[str, str, str, str]:
    """(group, version, plural, kind) of TrainJob, as ``workload_kinds()`` lists kinds."""
    return (GROUP, VERSION, PLURAL, KIND)
