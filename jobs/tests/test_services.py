"""Job services on PostgreSQL; submission and deletion against the real testbed."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clusters.client import ClusterError, ref_for
from jobs import services
from jobs.exceptions import JobStateError, SpecError
from jobs.models import JobEvent, JobStatus, TrainingJob

BODY = {
    "jobName": "svc-test",
    "namespace": "team-a",
    "algorithm": {"source": "default", "algorithmName": "xgboost"},
    "resources": {
        "instanceResources": {"cpuCores": 2, "memoryGiB": 4, "gpuCount": 0},
        "instanceCount": 1,
        "volumeSizeGB": 0,
    },
    "hyperparameters": {"xgboost": {"num_round": 10}},
    "targetClusters": [],
}


def body(**changes):
    data = copy.deepcopy(BODY)
    data.update(changes)
    return data


class TestCreate:
    def test_it_stores_a_pending_job_with_its_manifests(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        assert job.status == JobStatus.PENDING
        assert job.owner == alice
        assert sorted(job.candidate_clusters) == ["member-cluster-1", "member-cluster-2"]
        assert [m["kind"] for m in job.manifests] == ["XGBoostJob", "PropagationPolicy"]
        assert job.k8s_name.startswith("svc-test-")
        assert list(JobEvent.objects.filter(job=job).values_list("to_status", flat=True)) == [
            "Pending"
        ]

    def test_it_rejects_outsider_namespace_with_403(self, charlie, fleet):
        with pytest.raises(SpecError) as err:
            services.job_create(user=charlie, data=body())
        assert err.value.status_code == 403 and "namespace" in err.value.fields
        assert not TrainingJob.objects.exists()

    def test_it_keeps_gpu_jobs_off_cpu_only_clusters(self, alice, fleet):
        data = body()
        data["resources"]["instanceResources"]["gpuCount"] = 1
        job = services.job_create(user=alice, data=data)
        assert job.candidate_clusters == ["member-cluster-1"]

    def test_it_writes_nothing_for_a_job_that_fits_nowhere(self, alice, fleet):
        data = body()
        data["resources"]["instanceResources"]["cpuCores"] = 100
        data["resources"]["instanceCount"] = 2
        with pytest.raises(SpecError) as err:
            services.job_create(user=alice, data=data)
        assert "member-cluster-2 needs 200 CPU, 128 in all" in err.value.fields["resources"][0]
        assert not TrainingJob.objects.exists() and not JobEvent.objects.exists()

    def test_it_sends_a_trainjob_under_the_v2_backend(self, alice, fleet, settings):
        settings.TRAINING_BACKEND = "v2"
        job = services.job_create(user=alice, data=body())
        assert job.backend == "v2"
        assert [m["kind"] for m in job.manifests] == ["TrainJob", "PropagationPolicy"]
        assert job.manifests[0]["spec"]["runtimeRef"]["name"] == "xgboost-distributed"
        # A job keeps its backend when the setting changes back.
        settings.TRAINING_BACKEND = "v1"
        job.refresh_from_db()
        assert job.backend == "v2"
        assert services.job_create(user=alice, data=body()).backend == "v1"

    def test_operators_may_use_any_namespace(self, operator, fleet):
        assert services.job_create(user=operator, data=body(namespace="anything")).namespace == (
            "anything"
        )


class TestDeleteAndResubmit:
    def test_delete_marks_deleting_and_refuses_twice(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        job = services.job_delete(job=job, user=alice)
        assert job.status == JobStatus.DELETING
        with pytest.raises(JobStateError):
            services.job_delete(job=job, user=alice)

    def test_resubmit_only_from_submit_failed_or_pending(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        services.job_apply_status(job_id=job.id, status=JobStatus.RUNNING)
        job.refresh_from_db()
        with pytest.raises(JobStateError):
            services.job_resubmit(job=job, user=alice)
        TrainingJob.objects.filter(id=job.id).update(status=JobStatus.SUBMIT_FAILED)
        job.refresh_from_db()
        assert services.job_resubmit(job=job, user=alice).status == JobStatus.PENDING

    def test_sweep_picks_up_jobs_stuck_in_pending(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        TrainingJob.objects.filter(id=job.id).update(updated_at=timezone.now() - timedelta(hours=1))
        assert services.job_pending_sweep()["pending"] == 1
        # Touched: the next sweep waits a full period before enqueueing it again.
        assert services.job_pending_sweep()["pending"] == 0


class TestStatus:
    def test_transition_is_compare_and_swap(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        assert services.job_transition(job_id=job.id, old="Pending", new="Submitted")
        assert not services.job_transition(job_id=job.id, old="Pending", new="SubmitFailed")
        job.refresh_from_db()
        assert job.status == "Submitted"

    def test_apply_status_records_history_and_times(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        services.job_apply_status(job_id=job.id, status="Running", cluster="member-cluster-1")
        services.job_apply_status(job_id=job.id, status="Succeeded", reason="XGBoostJobSucceeded")
        job.refresh_from_db()
        assert job.started_at and job.finished_at and job.cluster == "member-cluster-1"
        # Seen Running on a cluster: it was Scheduled there first, and the history says so.
        assert [e.to_status for e in job.events.all()] == [
            "Pending",
            "Scheduled",
            "Running",
            "Succeeded",
        ]
        # Final is final: a late observation changes nothing.
        assert not services.job_apply_status(job_id=job.id, status="Running")

    def test_a_create_reads_each_thing_once(self, alice, fleet):
        """The create path's query budget: the token and the user come with the request;
        the operator rule, the grants, the clusters, the quotas, the queue check, the usage,
        and the inserts each once, in one transaction. A second read of the same rows is a
        regression that shows as lower throughput at 16 clients."""
        services.job_create(user=alice, data=body(jobName="warm"))
        fresh = type(alice).objects.get(pk=alice.pk)  # as the next request's user
        with CaptureQueriesContext(connection) as queries:
            services.job_create(user=fresh, data=body(jobName="counted"))
        sql = [q["sql"] for q in queries]
        assert sum('FROM "clusters_membercluster"' in q for q in sql) == 1, sql
        assert sum("auth_permission" in q for q in sql) == 1, sql
        assert sum('FROM "jobs_namespacequota"' in q for q in sql) == 1, sql
        # One transaction (here a savepoint inside the test's), none around the insert.
        assert sum(q.startswith("SAVEPOINT") for q in sql) == 1, sql
        assert len(sql) <= 10, sql

    def test_sync_does_nothing_without_active_jobs(self, alice, fleet, settings):
        settings.KARMADA_KUBECONFIG_PATH = "/nonexistent"  # would fail if it touched Karmada
        services.job_create(user=alice, data=body())
        with CaptureQueriesContext(connection) as queries:
            assert services.job_status_sync() == 0
        assert len(queries) == 1


# --- against the testbed -------------------------------------------------------------


@pytest.mark.testbed
class TestOnKarmada:
    @pytest.fixture
    def live_fleet(self, karmada, db):
        from clusters.services import cluster_inventory_sync

        assert cluster_inventory_sync() >= 2

    def test_submit_is_idempotent(self, alice, karmada, live_fleet):
        job = services.job_create(user=alice, data=body(jobName="svc-idem"))
        assert services.job_submit(job_id=job.id) == JobStatus.SUBMITTED
        # A retried task after a lost acknowledgement: AlreadyExists counts as done.
        TrainingJob.objects.filter(id=job.id).update(status=JobStatus.PENDING)
        assert services.job_submit(job_id=job.id) == JobStatus.SUBMITTED
        for obj in job.manifests:
            assert karmada.get(ref_for(obj)) is not None
        TrainingJob.objects.filter(id=job.id).update(status=JobStatus.DELETING)
        wait_deleted(job)

    def test_permanent_refusal_is_submit_failed_with_karmadas_words(
        self, alice, karmada, live_fleet
    ):
        job = services.job_create(user=alice, data=body(jobName="svc-refused"))
        # Corrupt what was stored so the real API server refuses it (422).
        job.manifests[0]["spec"]["xgbReplicaSpecs"]["Master"]["replicas"] = "many"
        TrainingJob.objects.filter(id=job.id).update(manifests=job.manifests)
        assert services.job_submit(job_id=job.id) == JobStatus.SUBMIT_FAILED
        job.refresh_from_db()
        assert job.status_reason == "KarmadaRejected"
        assert "replicas" in job.status_message
        TrainingJob.objects.filter(id=job.id).update(status=JobStatus.DELETING)
        wait_deleted(job)

    def test_unreachable_karmada_is_transient_and_explained(
        self, alice, live_fleet, settings, tmp_path
    ):
        job = services.job_create(user=alice, data=body(jobName="svc-unreachable"))
        config = yaml.safe_load(open(settings.KARMADA_KUBECONFIG_PATH))
        config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"  # nothing listens
        path = tmp_path / "karmada.yaml"
        path.write_text(yaml.safe_dump(config))
        settings.KARMADA_KUBECONFIG_PATH = str(path)
        with pytest.raises(ClusterError) as err:
            services.job_submit(job_id=job.id)
        assert not err.value.permanent
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING and job.status_reason == "SubmitRetrying"
        assert "unreachable" in job.status_message.lower()


def wait_deleted(job):
    """Finish a Deleting job's removal from Karmada (the delete task's loop, inline)."""
    from testbed.polling import wait_for

    def gone() -> bool:
        try:
            return services.job_finish_delete(job_id=job.id) == JobStatus.DELETED
        except ClusterError:
            return False

    wait_for(gone, timeout=30, message="objects removed from Karmada")
