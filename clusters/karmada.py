"""Karmada's naming rules for the objects the platform writes, defined once.

Pure (no I/O, no ``kubernetes``): the client, the frameworks and the status sync all name
Karmada's objects through here, so they cannot drift apart.
"""

from __future__ import annotations

POLICY_GROUP = "policy.karmada.io"
POLICY_VERSION = "v1alpha1"
POLICY_KIND = "PropagationPolicy"

# Plurals (the REST resource names) of the kinds the platform writes.
PLURALS = {
    POLICY_KIND: "propagationpolicies",
    "TFJob": "tfjobs",
    "PyTorchJob": "pytorchjobs",
    "XGBoostJob": "xgboostjobs",
    "JAXJob": "jaxjobs",
    "MPIJob": "mpijobs",
    # Kubeflow Trainer v2 (TRAINING_BACKEND=v2).
    "TrainJob": "trainjobs",
    "ResourceInterpreterCustomization": "resourceinterpretercustomizations",
}


def plural(kind: str) -> str:
    """The REST resource name of ``kind``; ValueError for a kind the platform never writes."""
    try:
        return PLURALS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind}") from None


def binding_name(name: str, kind: str) -> str:
    """The ResourceBinding Karmada makes for the object ``name`` of ``kind``.

    Bindings do not carry the template's labels, so the sync finds them by this name."""
    return f"{name}-{kind.lower()}"
