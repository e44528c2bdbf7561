"""factory_boy factories for jobs, shared by every test module (member clusters come from
``clusters.tests.factories``, re-exported here).

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

from clusters.tests.factories import MemberClusterFactory
from jobs.models import AlgorithmSource, Framework, JobEvent, JobStatus, TrainingJob

__all__ = [
    "JobEventFactory",
    "MemberClusterFactory",
    "TrainingJobFactory",
    "UserFactory",
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-123-word")


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
