"""The job's wire shape: ``JobOutputSerializer`` writes its declared fields out by hand for
speed, and must say exactly what DRF's generic walk over those same declarations says, for
jobs in every state (and for the detail, which adds fields through DRF)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework import serializers

from jobs.api.serializers import JobDetailOutputSerializer, JobOutputSerializer
from jobs.models import AlgorithmSource, FailureClass, Framework, JobStatus, TrainingJob
from jobs.tests.factories import JobEventFactory, TrainingJobFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=123456)


def _jobs() -> list[TrainingJob]:
    alice = UserFactory(username="alice")
    ago = lambda **kw: NOW - timedelta(**kw)  # noqa: E731
    made: list[Any] = [
        # Just created: no times beyond creation, no owner.
        TrainingJobFactory(),
        # Queued behind others, waiting in words across lines, high priority.
        TrainingJobFactory(
            status=JobStatus.QUEUED,
            owner=alice,
            priority="high",
            queue_position=3,
            waiting_layer="karmada",
            waiting_reason="Unschedulable",
            waiting_message="0/2 clusters are available:\nmember-cluster-1 is full",
            waiting_since=ago(seconds=42, microseconds=77),
        ),
        # Waiting without a since, in a layer the platform does not name.
        TrainingJobFactory(
            status=JobStatus.SUBMITTED,
            submitted_at=ago(minutes=1),
            waiting_layer="elsewhere",
            waiting_reason="Odd",
            waiting_message="",
        ),
        # Running with pods read, labels, a run policy and several candidates.
        TrainingJobFactory(
            running=True,
            owner=alice,
            labels={"team": "vision", "cost-center": "42"},
            run_policy={"backoffLimit": 2, "activeDeadlineSeconds": None},
            target_clusters=["member-cluster-1", "member-cluster-2"],
            replica_status=[
                {
                    "type": "worker",
                    "total": 1,
                    "pending": 0,
                    "running": 1,
                    "succeeded": 0,
                    "failed": 0,
                    "pods": [],
                }
            ],
            insight_at=ago(seconds=3),
            next_attempt_at=NOW + timedelta(seconds=5),
        ),
        # Failed without a class (Unknown) and without a summary (the status message).
        TrainingJobFactory(
            status=JobStatus.FAILED,
            status_reason="BackoffLimitExceeded",
            status_message="job failed",
            started_at=ago(minutes=3),
            finished_at=ago(minutes=1),
        ),
        # Failed with a class and summary; a leftover wait is not shown once it ended.
        TrainingJobFactory(
            status=JobStatus.FAILED,
            failure_class=FailureClass.OUT_OF_MEMORY,
            failure_summary="worker-1 exited with code 137 (OOMKilled)",
            waiting_layer="member",
            waiting_reason="Unschedulable",
            finished_at=ago(seconds=1),
        ),
        # Custom image with a command, GPUs, fractional CPU, a cleaned-up finished job.
        TrainingJobFactory(
            succeeded=True,
            framework=Framework.PYTORCH,
            algorithm_source=AlgorithmSource.CUSTOM,
            algorithm_name="resnet",
            image="registry.example.com/resnet:1",
            command=["python", "train.py"],
            cpu_cores=0.5,
            memory_gib=1.25,
            gpu_count=2,
            instance_count=4,
            volume_size_gb=0,
            hyperparameters={},
            cleaned_up_at=ago(seconds=10),
        ),
        TrainingJobFactory(deleted=True, target_clusters=[]),
        TrainingJobFactory(
            status=JobStatus.DELETING, status_reason="KarmadaDeleteFailed", started_at=ago(hours=2)
        ),
        TrainingJobFactory(submit_failed=True),
    ]
    JobEventFactory(job=made[3], to_status=JobStatus.RUNNING, reason="Running")
    # As the views read them: from the database, owners joined.
    read = TrainingJob.objects.select_related("owner").in_bulk([job.pk for job in made])
    return [read[job.pk] for job in made]


def _by_drf(serializer: serializers.Serializer, job: TrainingJob) -> dict[str, Any]:
    return serializers.Serializer.to_representation(serializer, job)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
@pytest.mark.parametrize("serializer_class", [JobOutputSerializer, JobDetailOutputSerializer])
def test_the_written_out_shape_is_what_drf_makes_of_the_declared_fields(
    serializer_class: type[JobOutputSerializer], zone: str
) -> None:
    jobs = _jobs()
    with mock.patch("django.utils.timezone.now", return_value=NOW), timezone.override(zone):
        for job in jobs:
            reference = _by_drf(serializer_class(), job)
            assert serializer_class(job).data == reference, job.status
        # A page reuses one child serializer for every job.
        assert list(serializer_class(jobs, many=True).data) == [
            _by_drf(serializer_class(), job) for job in jobs
        ]


def test_the_detail_adds_its_events_and_manifests_to_the_shared_shape() -> None:
    job = _jobs()[3]
    data = JobDetailOutputSerializer(job).data
    assert [event["to"] for event in data["events"]] == [JobStatus.RUNNING]
    assert data["manifests"] == []
    assert set(data) - set(JobOutputSerializer(job).data) == {"events", "manifests"}
