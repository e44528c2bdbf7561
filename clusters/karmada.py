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


# How Karmada marks a resource template as claimed by a PropagationPolicy: the policy's
# permanent id (a label Karmada's webhook gives every policy it admits) and its name.
POLICY_PERMANENT_ID_LABEL = "propagationpolicy.karmada.io/permanent-id"
POLICY_NAMESPACE_ANNOTATION = "propagationpolicy.karmada.io/namespace"
POLICY_NAME_ANNOTATION = "propagationpolicy.karmada.io/name"


def claimed_by(workload: dict, policy: dict) -> dict:
    """``workload`` carrying the claim Karmada's detector would write onto it for
    ``policy`` (as Karmada returned it): created so, the detector binds it at once instead
    of first updating the template with its claim, which costs an API write and a second
    reconcile (whose binding create then fails, as the first one made it). ``workload``
    unchanged when the policy carries no permanent id."""
    meta = policy.get("metadata") or {}
    policy_id = (meta.get("labels") or {}).get(POLICY_PERMANENT_ID_LABEL)
    if not policy_id:
        return workload
    wmeta = dict(workload.get("metadata") or {})
    wmeta["labels"] = {**(wmeta.get("labels") or {}), POLICY_PERMANENT_ID_LABEL: policy_id}
    wmeta["annotations"] = {
        **(wmeta.get("annotations") or {}),
        POLICY_NAMESPACE_ANNOTATION: meta.get("namespace", ""),
        POLICY_NAME_ANNOTATION: meta.get("name", ""),
    }
    return {**workload, "metadata": wmeta}
