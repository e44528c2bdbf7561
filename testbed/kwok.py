"""kwok's configuration: the stages that run, finish or fail the testbed's fake pods."""

from __future__ import annotations

import yaml

from .binaries import kwok_dir, load_yaml_docs
from .config import FAIL_LABEL, MEMBERS, OUTCOMES, TESTBED_DIR
from .layout import Layout


def kwok_config(lay: Layout) -> list[dict]:
    """kwok's configuration: its own fast pod stages, the testbed's job stages, pod logs.

    kwok only falls back to its built-in pod stages when none are configured, so the
    upstream ones are loaded from the kwok module and combined with ours; its stock
    pod-complete stage must leave Kubeflow pods, JobSet's (Trainer v2) and pods meant to
    fail to ours.
    """
    fast = kwok_dir() / "kustomize" / "stage" / "pod" / "fast"
    stages = []
    for name in ("pod-ready", "pod-complete", "pod-delete"):
        stage = load_yaml_docs(fast / f"{name}.yaml")[0]
        exprs = stage["spec"]["selector"]["matchExpressions"]
        if name == "pod-ready":
            # Pods look like they take a moment to start, as the product expects.
            stage["spec"]["delay"] = {"durationMilliseconds": 1000}
            # A pod whose image "cannot be pulled" never starts (testbed-pod-image-pull).
            exprs.append(
                {
                    "key": f'.metadata.labels["{FAIL_LABEL}"]',
                    "operator": "NotIn",
                    "values": ["image-pull"],
                }
            )
        if name == "pod-complete":
            exprs.append(
                {
                    "key": '.metadata.labels["training.kubeflow.org/job-name"]',
                    "operator": "DoesNotExist",
                }
            )
            # JobSet's pods belong to batch Jobs, which the stock stage would finish at
            # once, MPI nodes included (they run sshd until their launcher is done).
            exprs.append(
                {
                    "key": '.metadata.labels["jobset.sigs.k8s.io/jobset-name"]',
                    "operator": "DoesNotExist",
                }
            )
            exprs.append(
                {
                    "key": f'.metadata.labels["{FAIL_LABEL}"]',
                    "operator": "NotIn",
                    "values": list(OUTCOMES),
                }
            )
        stages.append(stage)
    ms = str(int(lay.pod_run_seconds * 1000))
    text = (TESTBED_DIR / "kwok-stages.yaml").read_text().replace("__RUN_MILLISECONDS__", ms)
    stages += [d for d in yaml.safe_load_all(text) if d]
    # Every container of every pod "logs" the same few lines, so that log reading
    # (kubectl logs, Karmada's cluster proxy) has something real to return.
    stages.append(
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "testbed-pod-logs"},
            "spec": {"selector": {}, "logs": [{"logsFile": str(lay.home / "kwok" / "pod.log")}]},
        }
    )
    # kwok plays 4 pod stages at a time by default; a burst of a thousand pods queued behind
    # that (each stage change is one status write) while the API servers idled.
    stages.append(
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": {"podPlayStageParallelism": 16},
        }
    )
    return stages


POD_LOG_LINES = [
    "testbed: this pod runs on a kwok node; no container process exists",
    "testbed: it ends as its kwok stage says (Succeeded, or Failed with outcome=fail)",
]


def write_kwok_config(lay: Layout) -> bool:
    """Write kwok's configuration; True when it differs from what was there (kwok reads it
    only at start, so a changed one needs a restart)."""
    (lay.home / "kwok").mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump_all(kwok_config(lay), sort_keys=False)
    changed = False
    # kwok reads log files in the CRI log format.
    (lay.home / "kwok" / "pod.log").write_text(
        "".join(
            f"2025-01-01T00:00:0{i}.000000000Z stdout F {line}\n"
            for i, line in enumerate(POD_LOG_LINES)
        )
    )
    for member in MEMBERS:
        path = lay.home / "kwok" / f"{member}-stages.yaml"
        if not path.exists() or path.read_text() != text:
            changed = True
            path.write_text(text)
    return changed
