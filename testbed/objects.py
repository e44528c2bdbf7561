"""The Kubernetes objects the testbed applies: CRDs, Karmada's own objects, kwok nodes,
member operators, the platform's interpreter customizations and the cluster joins."""

from __future__ import annotations

import yaml

from .binaries import (
    jobset_dir,
    karmada_dir,
    load_yaml_docs,
    mpi_operator_dir,
    trainer_dir,
    training_operator_dir,
)
from .config import CA_BUNDLE_PLACEHOLDER, KUBEFLOW_SCHEMES, REPO
from .kubeconfig import _b64
from .layout import Layout


def karmada_crds(lay: Layout) -> list[dict]:
    """Karmada's CRDs as its kustomization lists them, with the conversion webhook patches
    pointed at the local karmada-webhook."""
    crd_root = karmada_dir() / "charts" / "karmada" / "_crds"
    kustomization = yaml.safe_load((crd_root / "kustomization.yaml").read_text())
    crds = {}
    for rel in kustomization["resources"]:
        for doc in load_yaml_docs(crd_root / rel):
            crds[doc["metadata"]["name"]] = doc
    webhook = f"https://127.0.0.1:{lay.ports['karmada-webhook']}"
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    for patch in kustomization.get("patches", []):
        doc = load_yaml_docs(
            crd_root / patch["path"],
            {"https://{{name}}.{{namespace}}.svc:443": webhook, CA_BUNDLE_PLACEHOLDER: ca},
        )[0]
        crds[doc["metadata"]["name"]]["spec"]["conversion"] = doc["spec"]["conversion"]
    return list(crds.values())


def kubeflow_crds() -> list[dict]:
    base = training_operator_dir() / "manifests" / "base" / "crds"
    docs = []
    for scheme in KUBEFLOW_SCHEMES:
        docs += load_yaml_docs(base / f"kubeflow.org_{scheme}s.yaml")
    # v2beta1 MPIJob comes from mpi-operator; training-operator's v1 MPIJob CRD has the
    # same name and would clash with it.
    docs += load_yaml_docs(mpi_operator_dir() / "manifests" / "base" / "kubeflow.org_mpijobs.yaml")
    return docs


def trainer_crds(*, member: bool) -> list[dict]:
    """Kubeflow Trainer v2's CRDs. Karmada holds only TrainJob templates; members also get
    the runtimes' CRDs and JobSet's (its only version, v1alpha2, needs no conversion
    webhook, so the kustomization's conversion patch is left out)."""
    base = trainer_dir() / "manifests" / "base" / "crds"
    docs = load_yaml_docs(base / "trainer.kubeflow.org_trainjobs.yaml")
    if member:
        docs += load_yaml_docs(base / "trainer.kubeflow.org_trainingruntimes.yaml")
        docs += load_yaml_docs(base / "trainer.kubeflow.org_clustertrainingruntimes.yaml")
        crd = jobset_dir() / "config" / "components" / "crd" / "bases"
        docs += load_yaml_docs(crd / "jobset.x-k8s.io_jobsets.yaml")
    return docs


def trainer_webhooks(lay: Layout, member: str) -> list[dict]:
    """JobSet's and Trainer's webhook configurations from their manifests, with their
    kustomize patches applied by hand (names, the pod webhooks' object selector) and every
    service reference turned into the local process's URL with the testbed CA."""
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    out = []
    sources = [
        (
            "jobset",
            jobset_dir() / "config" / "components" / "webhook" / "manifests.yaml",
            lay.ports[f"{member}-jobset-webhook"],
        ),
        (
            "trainer",
            trainer_dir() / "manifests" / "base" / "webhook" / "manifests.yaml",
            lay.ports[f"{member}-trainer-webhook"],
        ),
    ]
    for project, path, port in sources:
        for doc in load_yaml_docs(path):
            doc["metadata"]["name"] = f"{project}-{doc['metadata']['name']}"
            for hook in doc["webhooks"]:
                service = hook["clientConfig"].pop("service")
                hook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{port}{service['path']}",
                    "caBundle": ca,
                }
                if project == "jobset" and hook["rules"][0]["resources"] == ["pods"]:
                    # As JobSet's own kustomize patch: only pods of JobSets.
                    hook["objectSelector"] = {
                        "matchExpressions": [
                            {"key": "jobset.sigs.k8s.io/jobset-name", "operator": "Exists"}
                        ]
                    }
            out.append(doc)
    return out


TRAINER_RUNTIMES = (
    "torch_distributed.yaml",
    "deepspeed_distributed.yaml",
    "jax_distributed.yaml",
    "xgboost_distributed.yaml",
)


def trainer_runtimes() -> list[dict]:
    """Trainer's own ClusterTrainingRuntimes the platform uses, then the platform's own
    (TensorFlow, LightGBM, Horovod) from k8s/trainer/."""
    base = trainer_dir() / "manifests" / "base" / "runtimes"
    docs = []
    for name in TRAINER_RUNTIMES:
        docs += load_yaml_docs(base / name)
    for path in sorted((REPO / "k8s" / "trainer").glob("*.yaml")):
        docs += [d for d in load_yaml_docs(path) if d.get("kind") == "ClusterTrainingRuntime"]
    return docs


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def karmada_objects(lay: Layout) -> list[dict]:
    """Namespaces, webhook configurations and the aggregated APIService, from Karmada's
    deploy manifests rewritten for processes on 127.0.0.1."""
    deploy = karmada_dir() / "artifacts" / "deploy"
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    objs = [_namespace("karmada-system"), _namespace("karmada-cluster")]
    objs += load_yaml_docs(
        deploy / "webhook-configuration.yaml",
        {
            "https://karmada-webhook.karmada-system.svc:443/": f"https://127.0.0.1:{lay.ports['karmada-webhook']}/",
            CA_BUNDLE_PLACEHOLDER: ca,
        },
    )
    for doc in load_yaml_docs(
        deploy / "karmada-aggregated-apiserver-apiservice.yaml", {CA_BUNDLE_PLACEHOLDER: ca}
    ):
        if doc["kind"] == "APIService":
            doc["spec"]["service"]["port"] = lay.ports["karmada-aggregated-apiserver"]
        if doc["kind"] == "Service":
            # The aggregator dials <externalName>:<APIService port> and checks the
            # certificate for <service>.<namespace>.svc, which the testbed cert carries.
            doc["spec"]["externalName"] = "localhost"
        objs.append(doc)
    return objs


def node_objects(member: str) -> list[dict]:
    """Four kwok nodes: GPU nodes in member-cluster-1, larger CPU-only nodes in member-cluster-2."""
    gpu = member == "member-cluster-1"
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    if gpu:
        capacity["nvidia.com/gpu"] = "4"
    else:
        capacity.update({"cpu": "32", "memory": "128Gi"})
    nodes = []
    for i in range(4):
        name = f"{member}-node-{i}"
        labels = {
            "type": "kwok",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        if gpu:
            labels.update({"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "4"})
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
                "spec": {},
                # A node's status may be set on create; kwok keeps capacity as given.
                "status": {"capacity": dict(capacity), "allocatable": dict(capacity)},
            }
        )
    return nodes


def member_objects() -> list[dict]:
    return [
        # training-operator's certificate rotator fills this Secret; it must exist.
        _namespace("kubeflow"),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "training-operator-webhook-cert", "namespace": "kubeflow"},
        },
        # mpi-operator always takes its leader lease here.
        _namespace("mpi-operator"),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/host-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
    ]


def interpreter_customizations() -> list[dict]:
    docs = []
    for path in sorted((REPO / "k8s" / "karmada").glob("*.yaml")):
        docs += [
            d for d in load_yaml_docs(path) if d.get("kind") == "ResourceInterpreterCustomization"
        ]
    return docs


def join_objects(lay: Layout, member: str, cluster_id: str) -> list[dict]:
    """What `karmadactl join` leaves in Karmada for a Push-mode member."""
    token = _b64(lay.token(member))
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": member, "namespace": "karmada-cluster"},
            "data": {"token": token, "caBundle": ca},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{member}-impersonator", "namespace": "karmada-cluster"},
            "data": {"token": token},
        },
        {
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": member},
            "spec": {
                "id": cluster_id,
                "syncMode": "Push",
                "apiEndpoint": lay.apiserver_url(member),
                "secretRef": {"namespace": "karmada-cluster", "name": member},
                "impersonatorSecretRef": {
                    "namespace": "karmada-cluster",
                    "name": f"{member}-impersonator",
                },
            },
        },
    ]
