"""factory_boy factories for jobs and member clusters, shared by every test module.

``TrainingJobFactory()`` is a stored XGBoost job in team-a, Pending, with no owner; pass
``owner=alice`` and any field, or a status trait: ``TrainingJobFactory(running=True)``.
The factories write rows directly: nothing is validated or sent to Karmada (use
``jobs.services.job_create`` for that).
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from clusters.models import MemberCluster
from jobs.models import AlgorithmSource, Framework, JobEvent, JobStatus, TrainingJob


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-123-word")


class MemberClusterFactory(factory.django.DjangoModelFactory):
    """A ready cluster with room for most jobs: 64 cores, 256 GiB, 16 GPUs, nothing used."""

    class Meta:
        model = MemberCluster
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"member-cluster-{n + 1}")
    ready = True
    kubernetes_version = "v1.31.0"
    sync_mode = "Push"
    cpu_allocatable = 64.0
    cpu_allocated = 0.0
    memory_allocatable_gib = 256.0
    memory_allocated_gib = 0.0
    gpu_allocatable = 16.0
    gpu_allocated = 0.0
    node_count = 1
    present = True
    last_synced_at = factory.LazyFunction(timezone.now)

    class Params:
        not_ready = factory.Trait(ready=False, ready_message="cluster is not reachable")
        full = factory.Trait(cpu_allocated=64.0, memory_allocated_gib=256.0, gpu_allocated=16.0)
        no_gpu = factory.Trait(gpu_allocatable=0.0)


class TrainingJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingJob

    name = factory.Sequence(lambda n: f"train-{n}")
    namespace = "team-a"
    owner = None
    framework = Framework.XGBOOST
    algorithm_source = AlgorithmSource.DEFAULT
    algorithm_name = factory.LazyAttribute(lambda o: o.framework)
    image = factory.LazyAttribute(lambda o: settings.DEFAULT_IMAGES.get(o.framework, "busybox"))
    command = factory.LazyFunction(list)
    cpu_cores = 4.0
    memory_gib = 8.0
    gpu_count = 0
    instance_count = 1
    volume_size_gb = 20
    hyperparameters = factory.LazyFunction(
        lambda: {"num_round": 100, "eta": 0.3, "max_depth": 6, "objective": "binary:logistic"}
    )
    target_clusters = factory.LazyFunction(lambda: ["member-cluster-1"])
    candidate_clusters = factory.LazyAttribute(lambda o: list(o.target_clusters))
    run_policy = factory.LazyFunction(dict)
    labels = factory.LazyFunction(dict)
    status = JobStatus.PENDING
    # Unique like the real name (DNS-1035: starts with a letter, at most 63 characters).
    k8s_name = factory.LazyAttributeSequence(lambda o, n: f"{o.name[:50]}-{n:05d}".lower())
    manifests = factory.LazyFunction(list)

    class Params:
        submitted = factory.Trait(
            status=JobStatus.SUBMITTED,
            submitted_at=factory.LazyFunction(timezone.now),
        )
        running = factory.Trait(
            status=JobStatus.RUNNING,
            cluster="member-cluster-1",
            submitted_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5)),
            started_at=factory.LazyFunction(timezone.now),
        )
        succeeded = factory.Trait(
            status=JobStatus.SUCCEEDED,
            status_reason="XGBoostJobSucceeded",
            cluster="member-cluster-1",
            submitted_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=10)),
            started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=9)),
            finished_at=factory.LazyFunction(timezone.now),
        )
        submit_failed = factory.Trait(
            status=JobStatus.SUBMIT_FAILED,
            status_reason="KarmadaRejected",
            status_message="admission webhook denied the request",
        )
        deleted = factory.Trait(
            status=JobStatus.DELETED, finished_at=factory.LazyFunction(timezone.now)
        )


class JobEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobEvent

    job = factory.SubFactory(TrainingJobFactory)
    from_status = ""
    to_status = JobStatus.PENDING
    reason = "Created"
    message = "Accepted."
