"""Trust under faults: a job is Failed only on evidence, runs once, has one submit chain,
says why it waits, and leaves nothing behind on Karmada. PostgreSQL, and the real testbed
for everything that talks to Karmada; mocks only inject faults the real parts cannot
produce on demand."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from clusters.client import ClusterError, KarmadaClient, ref_for
from clusters.models import ControlPlaneHealth, MemberCluster
from jobs import services, tasks
from jobs.models import JobEvent, JobStatus, TrainingJob
from jobs.tests.test_services import body
from testbed.polling import wait_for


def _age(job: TrainingJob, **fields_seconds: float) -> None:
    """Move a job's timestamps into the past instead of sleeping until they are."""
    now = timezone.now()
    TrainingJob.objects.filter(id=job.id).update(
        **{name: now - timedelta(seconds=s) for name, s in fields_seconds.items()}
    )


# --- one submit chain per job ----------------------------------------------------------


class TestOneChain:
    def test_sweep_leaves_a_chain_waiting_out_its_backoff_alone(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        services.job_submit_retry_scheduled(
            job_id=job.id,
            token=job.submit_token,
            message="Attempt 6 failed: Karmada is unreachable",
            at=timezone.now() + timedelta(seconds=50),
        )
        _age(job, updated_at=3600)
        assert services.job_pending_sweep()["pending"] == 0
        job.refresh_from_db()
        assert job.status_reason == "SubmitRetrying"
        assert "Next attempt at" in job.status_message and job.next_attempt_at

    def test_sweep_starts_a_new_chain_when_the_attempt_is_overdue(self, alice, fleet):
        job = services.job_create(user=alice, data=body())
        old_token = job.submit_token
        _age(job, next_attempt_at=3600, updated_at=3600)
        assert services.job_pending_sweep()["pending"] == 1
        job.refresh_from_db()
        assert job.submit_token != old_token and job.next_attempt_at is None
        # The old chain, should its message still arrive, stands back.
        assert services.job_submit(job_id=job.id, token=old_token) == "superseded"
        # And the new chain is not started twice by the next sweep.
        assert services.job_pending_sweep()["pending"] == 0

    def test_sweep_leaves_a_submission_still_waiting_in_the_broker_alone(
        self, alice, fleet, settings
    ):
        import redis

        # A queue of this test's own on the real broker: no worker reads it, as no worker
        # gets to a message at the back of a long burst.
        queue = f"sweep-{uuid.uuid4().hex[:8]}"
        settings.CELERY_TASK_DEFAULT_QUEUE = queue
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        job = services.job_create(user=alice, data=body())
        token = job.submit_token
        tasks.job_submit_task.apply_async(
            kwargs={"job_id": str(job.id), "token": str(token)}, queue=queue
        )
        try:
            assert broker.llen(f"{queue}:{tasks.BURST_PRIORITY}") == 1
            _age(job, updated_at=3600)
            # Late, not lost: the chain it has is left to run.
            assert services.job_pending_sweep() == {"pending": 0, "deleting": 0, "queued": 1}
            job.refresh_from_db()
            assert job.submit_token == token

            # The message gone (a worker died holding it, or Redis lost it): a new chain.
            broker.delete(*services.broker_queue_lists())
            assert services.job_pending_sweep() == {"pending": 1, "deleting": 0, "queued": 0}
            job.refresh_from_db()
            assert job.submit_token != token
        finally:
            broker.delete(*services.broker_queue_lists(), f"_kombu.binding.{queue}")

    def test_sweep_starts_no_chain_for_a_job_submitted_while_it_looked(
        self, alice, fleet, monkeypatch, django_capture_on_commit_callbacks
    ):
        job = services.job_create(user=alice, data=body())
        token = job.submit_token
        _age(job, updated_at=3600)

        def submitted_meanwhile() -> set[str]:
            # Fault: between the sweep's read and its write, the job's own chain (late,
            # held by a worker) submits it.
            services.job_transition(
                job_id=job.id, old=JobStatus.PENDING, new=JobStatus.SUBMITTED, reason="Submitted"
            )
            return set()

        monkeypatch.setattr(services, "queued_submit_tokens", submitted_meanwhile)
        sent = []
        real_enqueue = services._enqueue_submit
        monkeypatch.setattr(
            services, "_enqueue_submit", lambda *args: (sent.append(args), real_enqueue(*args))
        )
        with django_capture_on_commit_callbacks(execute=True):
            result = services.job_pending_sweep()
        assert result == {"pending": 0, "deleting": 0, "queued": 0}
        job.refresh_from_db()
        assert job.status == JobStatus.SUBMITTED and job.submit_token == token
        assert sent == []  # no second message for a job already on Karmada

    def test_sweep_presumes_lost_what_it_cannot_see_in_an_unreachable_broker(
        self, alice, fleet, settings
    ):
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
        job = services.job_create(user=alice, data=body())
        _age(job, updated_at=3600)

        assert services.job_pending_sweep()["pending"] == 1

    def test_resubmit_of_a_pending_job_supersedes_instead_of_adding_a_chain(
        self, alice, fleet, settings
    ):
        settings.KARMADA_KUBECONFIG_PATH = "/nonexistent"  # would fail if it touched Karmada
        job = services.job_create(user=alice, data=body())
        tokens = {job.submit_token}
        for _ in range(3):
            job = services.job_resubmit(job=job, user=alice)
            tokens.add(job.submit_token)
        assert len(tokens) == 4  # each call made the previous chain obsolete
        for token in tokens - {job.submit_token}:
            assert services.job_submit(job_id=job.id, token=token) == "superseded"
        assert job.status == JobStatus.PENDING

    def test_a_submit_task_for_a_deleted_job_does_nothing(self, alice, fleet, settings):
        settings.KARMADA_KUBECONFIG_PATH = "/nonexistent"
        job = services.job_create(user=alice, data=body())
        services.job_delete(job=job, user=alice)
        assert services.job_submit(job_id=job.id, token=job.submit_token) == JobStatus.DELETING

    def test_a_name_collision_gets_a_fresh_name_not_a_500(self, alice, fleet, monkeypatch):
        first = services.job_create(user=alice, data=body())
        real = services.kubernetes_name
        calls = []

        def colliding(name, job_id):
            # Fault: the first name drawn is one another job already holds.
            calls.append(job_id)
            return first.k8s_name if len(calls) == 1 else real(name, job_id)

        monkeypatch.setattr(services, "kubernetes_name", colliding)
        second = services.job_create(user=alice, data=body())
        assert second.k8s_name != first.k8s_name and len(calls) == 2
        assert second.manifests[0]["metadata"]["name"] == second.k8s_name
        labels = second.manifests[0]["metadata"]["labels"]
        assert labels["mlplatform.io/job-id"] == str(second.id)
        assert TrainingJob.objects.count() == 2


# --- honest errors -------------------------------------------------------------------


class TestErrorClasses:
    def test_a_bug_in_the_submit_path_is_shown_and_not_retried(self, alice, fleet, caplog):
        job = services.job_create(user=alice, data=body())
        # A corrupt row: the code that reads it raises IndexError, a bug, not an outage.
        TrainingJob.objects.filter(id=job.id).update(manifests=[])
        result = tasks.job_submit_task.apply(
            kwargs={"job_id": str(job.id), "token": str(job.submit_token)}
        )
        assert result.get() == "crashed"
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING and job.status_reason == "InternalError"
        assert "IndexError" in job.status_message and "unreachable" not in job.status_message
        assert "Traceback" in caplog.text
        _age(job, updated_at=3600)
        assert services.job_pending_sweep()["pending"] == 0  # no retry loop on a bug

    def test_a_permanent_delete_error_stops_and_can_be_asked_again(self, alice, fleet, monkeypatch):
        job = services.job_create(user=alice, data=body())
        services.job_delete(job=job, user=alice)

        def refuse(*, job_id):  # fault: Karmada answers 403 Forbidden
            raise ClusterError("delete XGBoostJob: forbidden (HTTP 403)", permanent=True)

        monkeypatch.setattr(services, "job_finish_delete", refuse)
        assert tasks.job_delete_task.apply(kwargs={"job_id": str(job.id)}).get() == "refused"
        job.refresh_from_db()
        assert job.status == JobStatus.DELETING and job.status_reason == "DeleteFailed"
        assert "forbidden" in job.status_message and "Not retried" in job.status_message
        _age(job, updated_at=3600)
        assert services.job_pending_sweep()["deleting"] == 0
        assert job.can_delete
        assert services.job_delete(job=job, user=alice).status_reason == "DeleteRequested"

    def test_a_transient_delete_error_says_when_it_tries_again(self, alice, fleet, monkeypatch):
        job = services.job_create(user=alice, data=body())
        services.job_delete(job=job, user=alice)

        def flaky(*, job_id):
            raise ClusterError("delete XGBoostJob: Karmada is unreachable", permanent=False)

        monkeypatch.setattr(services, "job_finish_delete", flaky)
        with pytest.raises(Exception):  # noqa: B017 - eager apply re-raises celery's Retry
            tasks.job_delete_task.apply(kwargs={"job_id": str(job.id)}, throw=True)
        job.refresh_from_db()
        assert job.status_reason == "DeleteRetrying" and job.next_attempt_at
        assert "Next attempt at" in job.status_message
        assert not job.can_delete

    def test_the_sync_lock_outlives_the_longest_pass(self, settings):
        one_request = settings.KARMADA_CONNECT_TIMEOUT + settings.KARMADA_READ_TIMEOUT
        assert services.sync_lock_ttl() > settings.JOB_SYNC_BUDGET + one_request


class TestErrorMapping:
    def test_statuses_and_transport_errors_map_to_permanent_or_transient(self):
        import urllib3
        from kubernetes.client.exceptions import ApiException

        from clusters.client import _error_from

        def api(status):
            return ApiException(status=status, reason="x")

        assert _error_from(api(422), "a").permanent
        assert _error_from(api(403), "a").permanent
        assert not _error_from(api(409), "a").permanent
        assert not _error_from(api(429), "a").permanent
        assert not _error_from(api(503), "a").permanent
        timeout = urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")
        assert "did not answer in time" in _error_from(timeout, "a").message
        assert not _error_from(ConnectionRefusedError(), "a").permanent
        # Not an API or transport failure: a bug, re-raised as it is.
        assert _error_from(TypeError("boom"), "a") is None
        assert _error_from(KeyError("spec"), "a") is None


# --- against the testbed ---------------------------------------------------------------


def _unreachable_kubeconfig(settings, tmp_path, port: int) -> str:
    config = yaml.safe_load(open(settings.KARMADA_KUBECONFIG_PATH))
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path / f"karmada-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def hung_server():
    """A TCP server that accepts connections and never answers: a hung API server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _names_asked_for(monkeypatch) -> list[str]:
    """The names of the objects the Karmada client GETs from now on (the real GETs)."""
    asked: list[str] = []
    real_get = KarmadaClient.get

    def get(self, ref, *args, **kwargs):
        asked.append(ref.name)
        return real_get(self, ref, *args, **kwargs)

    monkeypatch.setattr(KarmadaClient, "get", get)
    return asked


@pytest.mark.testbed
class TestSyncOnKarmada:
    @pytest.fixture
    def live(self, karmada, db):
        from clusters.services import cluster_inventory_sync

        assert cluster_inventory_sync() >= 2
        return karmada

    def _submitted(self, alice, name: str) -> TrainingJob:
        job = services.job_create(user=alice, data=body(jobName=name))
        assert services.job_submit(job_id=job.id, token=job.submit_token) == JobStatus.SUBMITTED
        job.refresh_from_db()
        return job

    def _cleanup(self, karmada, job):
        for obj in job.manifests:
            karmada.delete(ref_for(obj))

    def test_a_kind_karmada_does_not_serve_fails_no_job(self, alice, live, monkeypatch):
        job = self._submitted(alice, "rel-nokind")
        try:
            from jobs.frameworks import workload_kinds

            # Fault: the API server answers 404 for the kind's LIST (a CRD being
            # re-installed); a real 404 from the real server, for a plural it lacks.
            kinds = [
                (g, v, "xgboostjobsgone" if k == "XGBoostJob" else p, k)
                for g, v, p, k in workload_kinds()
            ]
            monkeypatch.setattr(services, "workload_kinds", lambda: kinds)
            for _ in range(3):
                services.job_status_sync()
            job.refresh_from_db()
            assert job.status == JobStatus.SUBMITTED or job.status == JobStatus.SCHEDULED
            assert job.status_reason == "StatusUnknown"
            assert "does not serve XGBoostJob" in job.status_message
            assert "not a job failure" in job.status_message
            assert not JobEvent.objects.filter(job=job, to_status=JobStatus.FAILED).exists()
            health = ControlPlaneHealth.objects.get()
            assert health.reachable and "does not serve XGBoostJob" in health.message
            from django.test import Client

            page = Client()
            page.force_login(alice)
            assert b"does not serve XGBoostJob" in page.get("/clusters/").content
            monkeypatch.undo()
            # Served again: the real status comes back.
            wait_for(
                lambda: (
                    services.job_status_sync() is not None
                    and TrainingJob.objects.get(id=job.id).status_reason != "StatusUnknown"
                ),
                timeout=30,
                message="status read again once the kind is served",
            )
            assert ControlPlaneHealth.objects.get().message == ""
        finally:
            self._cleanup(live, job)

    def test_a_vanished_workload_fails_its_job_only_when_confirmed(self, alice, live):
        job = self._submitted(alice, "rel-vanish")
        try:
            live.delete(ref_for(job.manifests[0]))
            wait_for(
                lambda: live.get(ref_for(job.manifests[0])) is None,
                timeout=30,
                message="workload gone from Karmada",
            )
            # Submitted long enough ago that a workload the watch does not show is asked for.
            _age(job, submitted_at=60)
            services.job_status_sync()
            job.refresh_from_db()
            assert job.status != JobStatus.FAILED and job.missing_since
            services.job_status_sync()  # too soon for the second look to count
            job.refresh_from_db()
            assert job.status != JobStatus.FAILED
            _age(job, missing_since=60)
            services.job_status_sync()
            job.refresh_from_db()
            assert job.status == JobStatus.FAILED and job.status_reason == "WorkloadMissing"
            assert "not found at" in job.status_message
        finally:
            self._cleanup(live, job)

    def test_a_just_submitted_workload_is_left_to_the_watch(self, alice, live, monkeypatch):
        # A row says Submitted, but nothing reached Karmada: as the sync sees a job whose
        # workload its watch has not brought yet. No GET for it until the grace is over.
        job = services.job_create(user=alice, data=body(jobName="rel-grace"))
        TrainingJob.objects.filter(id=job.id).update(
            status=JobStatus.SUBMITTED, submitted_at=timezone.now(), updated_at=timezone.now()
        )
        asked = _names_asked_for(monkeypatch)
        services.job_status_sync()
        job.refresh_from_db()
        assert job.k8s_name not in asked and job.missing_since is None
        _age(job, submitted_at=60, updated_at=0)
        services.job_status_sync()
        job.refresh_from_db()
        assert job.k8s_name in asked and job.missing_since and job.status == JobStatus.SUBMITTED

    def test_a_just_submitted_job_marked_unread_is_read_at_once(self, alice, live, monkeypatch):
        # Karmada was down: the job says its status could not be read. When Karmada answers
        # again, the job is read at once, not left to a watch still catching up.
        job = services.job_create(user=alice, data=body(jobName="rel-unread"))
        TrainingJob.objects.filter(id=job.id).update(
            status=JobStatus.SUBMITTED,
            status_reason="KarmadaUnreachable",
            submitted_at=timezone.now(),
            updated_at=timezone.now(),
        )
        asked = _names_asked_for(monkeypatch)
        services.job_status_sync()
        assert job.k8s_name in asked

    def test_a_workload_seen_again_clears_the_suspicion(self, alice, live):
        job = self._submitted(alice, "rel-back")
        try:
            # As if an earlier pass had not seen it in its LIST.
            _age(job, missing_since=60)
            services.job_status_sync()
            job.refresh_from_db()
            assert job.status != JobStatus.FAILED and job.missing_since is None
        finally:
            self._cleanup(live, job)

    def test_an_unreachable_karmada_is_an_outage_not_a_failure(
        self, alice, live, settings, tmp_path
    ):
        job = self._submitted(alice, "rel-down")
        good = settings.KARMADA_KUBECONFIG_PATH
        try:
            settings.KARMADA_KUBECONFIG_PATH = _unreachable_kubeconfig(settings, tmp_path, 1)
            with pytest.raises(ClusterError):
                services.job_status_sync()
            job.refresh_from_db()
            assert job.status == JobStatus.SUBMITTED and job.status_reason == "KarmadaUnreachable"
            health = ControlPlaneHealth.objects.get()
            assert not health.reachable and "unreachable" in health.message.lower()
            settings.KARMADA_KUBECONFIG_PATH = good
            services.job_status_sync()
            job.refresh_from_db()
            assert job.status_reason != "KarmadaUnreachable"
            assert ControlPlaneHealth.objects.get().reachable
        finally:
            settings.KARMADA_KUBECONFIG_PATH = good
            self._cleanup(live, job)

    def test_a_hung_api_server_costs_a_pass_its_timeouts_only(
        self, alice, live, settings, tmp_path, hung_server
    ):
        job = self._submitted(alice, "rel-hung")
        good = settings.KARMADA_KUBECONFIG_PATH
        try:
            settings.KARMADA_CONNECT_TIMEOUT = 1.0
            settings.KARMADA_READ_TIMEOUT = 1.0
            settings.KARMADA_KUBECONFIG_PATH = _unreachable_kubeconfig(
                settings, tmp_path, hung_server
            )
            started = time.monotonic()
            with pytest.raises(ClusterError) as err:
                services.job_status_sync()
            # One request, then the pass gives up: it must not wait on every kind in turn.
            assert time.monotonic() - started < 30
            assert not err.value.permanent
            job.refresh_from_db()
            assert job.status == JobStatus.SUBMITTED and job.status_reason == "KarmadaUnreachable"
        finally:
            settings.KARMADA_KUBECONFIG_PATH = good
            self._cleanup(live, job)

    def test_jobs_on_an_unreachable_member_say_so_and_keep_their_status(self, alice, live):
        job = self._submitted(alice, "rel-member")
        try:
            cluster = wait_for(
                lambda: (
                    services.job_status_sync() is not None
                    and TrainingJob.objects.get(id=job.id).cluster
                ),
                timeout=30,
                message="job placed on a member",
            )
            before = TrainingJob.objects.get(id=job.id).status
            # The inventory mirror says the member is gone (as Karmada reports it when the
            # member's API server stops answering).
            MemberCluster.objects.filter(name=cluster).update(
                ready=False, ready_message="cluster is not reachable"
            )
            services.job_status_sync()
            job.refresh_from_db()
            if job.status == before:
                assert job.status_reason == "ClusterUnreachable"
                assert cluster in job.status_message and "not a job failure" in job.status_message
            assert job.status != JobStatus.FAILED
        finally:
            self._cleanup(live, job)

    def test_a_submit_failed_job_leaves_no_policy_behind(self, alice, live):
        job = services.job_create(user=alice, data=body(jobName="rel-refused"))
        job.manifests[0]["spec"]["xgbReplicaSpecs"]["Master"]["replicas"] = "many"
        TrainingJob.objects.filter(id=job.id).update(manifests=job.manifests)
        assert services.job_submit(job_id=job.id) == JobStatus.SUBMIT_FAILED
        wait_for(
            lambda: live.get(ref_for(job.manifests[1])) is None,
            timeout=30,
            message="the PropagationPolicy of a refused job removed",
        )

    def test_the_cleanup_sweep_removes_what_a_finished_job_left_behind(self, alice, live):
        job = self._submitted(alice, "rel-orphan")
        refs = [ref_for(obj) for obj in job.manifests]
        # The outcome of a delete that raced a submit: Deleted here, still on Karmada.
        TrainingJob.objects.filter(id=job.id).update(status=JobStatus.DELETED)
        assert all(live.get(ref) for ref in refs)
        result = services.job_cleanup_sweep()
        assert result["orphans"] >= 2
        wait_for(
            lambda: all(live.get(ref) is None for ref in refs),
            timeout=30,
            message="orphaned workload and policy removed",
        )

    def test_the_cleanup_sweep_spares_live_jobs(self, alice, live):
        job = self._submitted(alice, "rel-spare")
        try:
            services.job_cleanup_sweep()
            assert all(live.get(ref_for(obj)) for obj in job.manifests)
        finally:
            self._cleanup(live, job)


# --- a job runs once: ttlSecondsAfterFinished on the real operators ---------------------


@pytest.mark.e2e
@pytest.mark.testbed
def test_a_finished_job_with_a_ttl_is_removed_and_never_runs_again(
    transactional_db, make_user, celery_stack, karmada, testbed
):
    from clusters.services import cluster_inventory_sync

    cluster_inventory_sync()
    user = make_user(f"ttl-{uuid.uuid4().hex[:6]}", namespaces=("team-a",))
    data = body(jobName="rel-ttl", runPolicy={"ttlSecondsAfterFinished": 3})
    job = services.job_create(user=user, data=data)
    assert job.run_policy["ttlSecondsAfterFinished"] == 3
    assert "ttlSecondsAfterFinished" not in job.manifests[0]["spec"]["runPolicy"]
    wait_for(
        lambda: TrainingJob.objects.get(id=job.id).status == JobStatus.SUCCEEDED,
        timeout=120,
        message="job Succeeded",
    )
    job.refresh_from_db()
    cluster = job.cluster
    selector = f"mlplatform.io/job-id={job.id}"
    wait_for(
        lambda: TrainingJob.objects.get(id=job.id).cleaned_up_at,
        timeout=60,
        message="finished job removed from Karmada after its TTL",
    )
    assert karmada.get(ref_for(job.manifests[0])) is None

    def member_copies() -> int:
        listing = karmada.member_get(
            cluster,
            "/apis/kubeflow.org/v1/xgboostjobs",
            query={"labelSelector": selector},
        )
        return len(listing.get("items") or [])

    wait_for(lambda: member_copies() == 0, timeout=60, message="member's copy removed")
    # The trap being guarded: a copy re-created in the member and run again. Watch for
    # three whole pod lifetimes that none appears.
    watch_until = time.monotonic() + 3 * (testbed.pod_run_seconds + 3)
    while time.monotonic() < watch_until:
        assert member_copies() == 0, "the finished job was started again in the member"
        pods = karmada.member_pods(
            cluster, job.namespace, f"training.kubeflow.org/job-name={job.k8s_name}"
        )
        assert not [p for p in pods if p["status"].get("phase") in ("Pending", "Running")]
        time.sleep(1)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert JobEvent.objects.filter(job=job, reason="CleanedUp").exists()
    services.job_delete(job=job, user=user)


@pytest.mark.testbed
def test_a_namespace_remembered_but_gone_is_made_again(alice, karmada, fleet, settings):
    """Submits skip the namespace request for a namespace the process made sure of; one
    deleted since answers 404 on create, which is retried after making it again."""
    from jobs.models import NamespaceGrant

    namespace = f"rel-ns-{uuid.uuid4().hex[:8]}"
    NamespaceGrant.objects.create(user=alice, namespace=namespace)
    job = services.job_create(user=alice, data=body(jobName="rel-ns", namespace=namespace))
    karmada._namespaces[namespace] = time.monotonic() + 300  # believed to exist; it does not
    try:
        with pytest.raises(ClusterError) as err:
            services.job_submit(job_id=job.id, token=job.submit_token)
        assert not err.value.permanent and "re-created on the retry" in err.value.message
        assert services.job_submit(job_id=job.id, token=job.submit_token) == JobStatus.SUBMITTED
        assert karmada.get(ref_for(job.manifests[0])) is not None
    finally:
        for obj in job.manifests:
            karmada.delete(ref_for(obj))
