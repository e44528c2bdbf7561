"""The mapping from Karmada's view of a job to the platform status (pure)."""

import pytest

from jobs.models import JobStatus
from jobs.status import Observed, advances, implied_steps, observe


def workload(*conditions, start=None, done=None):
    status = {
        "conditions": [
            {"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions
        ]
    }
    if start:
        status["startTime"] = start
    if done:
        status["completionTime"] = done
    return {"kind": "XGBoostJob", "status": status}


def binding(
    scheduled="True", cluster="member-cluster-1", reason="Success", message="", applied=None
):
    b = {
        "spec": {"clusters": [{"name": cluster}] if cluster else []},
        "status": {
            "conditions": [
                {"type": "Scheduled", "status": scheduled, "reason": reason, "message": message}
            ]
        },
    }
    if applied is not None:
        b["status"]["aggregatedStatus"] = [applied]
    return b


def test_it_is_submitted_before_karmada_schedules():
    assert observe({"kind": "TFJob"}, None).status == JobStatus.SUBMITTED


def test_it_is_scheduled_with_the_bound_cluster():
    seen = observe({"kind": "TFJob"}, binding())
    assert (seen.status, seen.cluster) == (JobStatus.SCHEDULED, "member-cluster-1")


def test_it_shows_why_karmada_cannot_schedule():
    seen = observe(
        {},
        binding(
            scheduled="False",
            cluster="",
            reason="NoClusterFit",
            message="0/2 clusters are available",
        ),
    )
    assert seen.status == JobStatus.SUBMITTED
    assert (seen.reason, seen.message) == ("NoClusterFit", "0/2 clusters are available")


def test_it_reports_apply_failures_on_the_member():
    seen = observe(
        {},
        binding(
            applied={
                "clusterName": "member-cluster-1",
                "applied": False,
                "appliedMessage": "no matches for kind",
            }
        ),
    )
    assert seen.status == JobStatus.SCHEDULED
    assert seen.reason == "ApplyFailed" and "no matches for kind" in seen.message


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([("Created", "True", "", "")], JobStatus.SCHEDULED),
        ([("Created", "True", "", ""), ("Running", "True", "JobRunning", "")], JobStatus.RUNNING),
        ([("Running", "False", "", ""), ("Restarting", "True", "R", "")], JobStatus.RESTARTING),
        (
            [("Running", "False", "", ""), ("Succeeded", "True", "XGBoostJobSucceeded", "ok")],
            JobStatus.SUCCEEDED,
        ),
        (
            [("Running", "False", "", ""), ("Failed", "True", "XGBoostJobFailed", "boom")],
            JobStatus.FAILED,
        ),
    ],
)
def test_it_maps_kubeflow_conditions(conditions, expected):
    assert observe(workload(*conditions), binding()).status == expected


def test_it_keeps_the_condition_reason_and_times():
    seen = observe(
        workload(
            ("Failed", "True", "PyTorchJobFailed", "pod exited 1"),
            start="2026-01-01T00:00:00Z",
            done="2026-01-01T00:01:00Z",
        ),
        binding(),
    )
    assert (seen.reason, seen.message) == ("PyTorchJobFailed", "pod exited 1")
    assert seen.started_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert seen.finished_at.minute == 1


def test_it_never_moves_backwards():
    assert not advances(JobStatus.RUNNING, Observed(JobStatus.SCHEDULED), "", "")
    assert not advances(JobStatus.SUCCEEDED, Observed(JobStatus.FAILED), "", "")
    assert advances(JobStatus.RUNNING, Observed(JobStatus.RESTARTING), "", "")
    assert advances(JobStatus.RESTARTING, Observed(JobStatus.RUNNING), "", "")
    assert advances(JobStatus.SUBMITTED, Observed(JobStatus.SUCCEEDED), "", "")


def test_it_refreshes_the_message_only_when_it_changed():
    seen = Observed(JobStatus.SUBMITTED, reason="NoClusterFit", message="0/2")
    assert advances(JobStatus.SUBMITTED, seen, "", "")
    assert not advances(JobStatus.SUBMITTED, seen, "NoClusterFit", "0/2")


def test_it_reads_running_from_the_member_when_the_template_lacks_it():
    # Karmada aggregates only final conditions into a TFJob template.
    b = binding(
        applied={
            "clusterName": "member-cluster-1",
            "applied": True,
            "status": {
                "conditions": [
                    {"type": "Created", "status": "True"},
                    {"type": "Running", "status": "True", "reason": "TFJobRunning"},
                ],
                "startTime": "2026-01-01T00:00:00Z",
            },
        }
    )
    seen = observe({"kind": "TFJob", "status": {}}, b)
    assert (seen.status, seen.reason) == (JobStatus.RUNNING, "TFJobRunning")
    assert seen.started_at is not None


def test_a_final_template_condition_wins_over_a_stale_member_status():
    b = binding(
        applied={
            "clusterName": "member-cluster-1",
            "applied": True,
            "status": {"conditions": [{"type": "Running", "status": "True"}]},
        }
    )
    seen = observe(workload(("Succeeded", "True", "TFJobSucceeded", "")), b)
    assert seen.status == JobStatus.SUCCEEDED


def test_it_fills_in_the_states_a_fast_job_went_through_between_syncs():
    seen = Observed(JobStatus.SUCCEEDED, reason="TFJobSucceeded", cluster="member-cluster-1")
    steps = implied_steps(JobStatus.SUBMITTED, seen)
    assert [s.status for s in steps] == [JobStatus.SCHEDULED, JobStatus.RUNNING]
    assert all(s.cluster == "member-cluster-1" for s in steps)


def test_it_implies_nothing_it_cannot_know():
    # A failure may come before any pod ran, and without a cluster there was no placement.
    assert implied_steps(JobStatus.SUBMITTED, Observed(JobStatus.FAILED)) == []
    assert implied_steps(JobStatus.RUNNING, Observed(JobStatus.SUCCEEDED, cluster="m")) == []
    assert implied_steps(JobStatus.SCHEDULED, Observed(JobStatus.RUNNING, cluster="m")) == []


def test_the_members_own_copy_is_read_before_karmadas_aggregation():
    # The member's operator wrote Succeeded; Karmada has not copied it onto the template.
    template = workload(("Running", "True", "JobRunning", ""))
    copy = workload(("Succeeded", "True", "JobSucceeded", "done"), done="2026-01-01T00:00:09Z")
    seen = observe(template, binding(), [copy])
    assert (seen.status, seen.reason, seen.cluster) == (
        JobStatus.SUCCEEDED,
        "JobSucceeded",
        "member-cluster-1",
    )
    assert seen.finished_at is not None


def test_a_stale_restart_on_the_template_does_not_hide_the_members_running():
    template = workload(("Restarting", "True", "JobRestarting", ""))
    copy = workload(("Restarting", "False", "JobRestarting", ""), ("Running", "True", "R", ""))
    assert observe(template, binding(), [copy]).status == JobStatus.RUNNING


def test_a_copy_without_conditions_yet_leaves_the_template_in_charge():
    template = workload(("Running", "True", "JobRunning", ""))
    assert observe(template, binding(), [{"status": {}}]).status == JobStatus.RUNNING


# --- Kubeflow Trainer v2 TrainJob: final conditions only, Running from jobsStatus ---------


def trainjob(*conditions, jobs=None):
    status: dict = {}
    if conditions:
        status["conditions"] = [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": m,
                "lastTransitionTime": "2026-12-01T10:00:00Z",
            }
            for t, s, r, m in conditions
        ]
    if jobs is not None:
        status["jobsStatus"] = jobs
    return {"kind": "TrainJob", "status": status}


def counts(name="node", **values):
    return {"name": name, "ready": 0, "succeeded": 0, "failed": 0, "active": 0, **values}


def test_trainjob_without_status_is_scheduled_from_its_binding():
    seen = observe(trainjob(), binding())
    assert (seen.status, seen.cluster) == (JobStatus.SCHEDULED, "member-cluster-1")
    assert observe(trainjob(), None).status == JobStatus.SUBMITTED


def test_trainjob_with_no_active_pods_yet_stays_scheduled():
    assert observe(trainjob(jobs=[counts()]), binding()).status == JobStatus.SCHEDULED


def test_trainjob_runs_when_a_replicated_job_has_active_pods():
    seen = observe(trainjob(jobs=[counts(active=1), counts("launcher")]), binding())
    assert (seen.status, seen.cluster) == (JobStatus.RUNNING, "member-cluster-1")
    assert "node" in seen.message and "launcher" not in seen.message


def test_trainjob_complete_is_succeeded():
    seen = observe(
        trainjob(
            ("Complete", "True", "AllJobsCompleted", "jobset completed successfully"),
            jobs=[counts(succeeded=1)],
        ),
        binding(),
    )
    assert (seen.status, seen.reason) == (JobStatus.SUCCEEDED, "AllJobsCompleted")
    assert seen.finished_at is not None


def test_trainjob_failed_keeps_trainers_reason_and_message():
    seen = observe(
        trainjob(
            ("Failed", "True", "FailedJobs", "member-cluster-1: jobset failed: node-0 failed"),
            jobs=[counts(failed=1)],
        ),
        binding(),
    )
    assert seen.status == JobStatus.FAILED
    assert (seen.reason, seen.message) == (
        "FailedJobs",
        "member-cluster-1: jobset failed: node-0 failed",
    )


def test_trainjob_suspended_is_not_running():
    seen = observe(
        trainjob(("Suspended", "True", "Suspended", ""), jobs=[counts(suspended=1)]), binding()
    )
    assert seen.status == JobStatus.SCHEDULED


def test_trainjob_status_is_read_from_the_binding_when_the_template_lags():
    b = binding()
    b["status"]["aggregatedStatus"] = [
        {"clusterName": "member-cluster-1", "status": {"jobsStatus": [counts(active=2)]}}
    ]
    assert observe(trainjob(), b).status == JobStatus.RUNNING


def test_a_trainjobs_own_copy_on_the_member_is_read_first():
    copy = trainjob(("Complete", "True", "AllJobsCompleted", "done"), jobs=[counts(succeeded=1)])
    seen = observe(trainjob(), binding(), [copy])
    assert (seen.status, seen.reason) == (JobStatus.SUCCEEDED, "AllJobsCompleted")
