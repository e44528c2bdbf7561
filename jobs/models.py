from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobs.namespaces import system_namespace_reason, system_namespace_rule


class Framework(models.TextChoices):
    TENSORFLOW = "tensorflow", "TensorFlow"
    PYTORCH = "pytorch", "PyTorch"
    XGBOOST = "xgboost", "XGBoost"
    LIGHTGBM = "lightgbm", "LightGBM"
    JAX = "jax", "JAX"
    HOROVOD = "horovod", "Horovod"
    DEEPSPEED = "deepspeed", "DeepSpeed"


class TrainingBackend(models.TextChoices):
    """Which Kubeflow API a job's workload uses (settings.TRAINING_BACKEND at creation)."""

    V1 = "v1", "Kubeflow training-operator v1 kinds"
    V2 = "v2", "Kubeflow Trainer v2 TrainJob"


class AlgorithmSource(models.TextChoices):
    DEFAULT = "default", "Built-in"
    CUSTOM = "custom", "Custom image"


class JobStatus(models.TextChoices):
    PENDING = "Pending"
    SUBMITTED = "Submitted"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    RESTARTING = "Restarting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    DELETING = "Deleting"
    DELETED = "Deleted"
    SUBMIT_FAILED = "SubmitFailed"
    # Accepted, waiting in the platform's queue for quota or cluster room; not on Karmada.
    QUEUED = "Queued"


# Statuses after which nothing changes on its own: the UI stops polling, the sync skips them.
FINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DELETED, JobStatus.SUBMIT_FAILED}
)
# Statuses whose objects live on Karmada and are followed by the status sync.
ACTIVE_STATUSES = frozenset(
    {JobStatus.SUBMITTED, JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.RESTARTING}
)


# Statuses that hold their namespace's quota: admitted and not yet final. A Deleting job
# holds it only once it reached Karmada (see ``jobs.queue``), since its pods may still run.
QUOTA_STATUSES = frozenset(
    {
        JobStatus.PENDING,
        JobStatus.SUBMITTED,
        JobStatus.SCHEDULED,
        JobStatus.RUNNING,
        JobStatus.RESTARTING,
    }
)


class FailureClass(models.TextChoices):
    """Why a Failed job failed, in the words a user filters by."""

    OUT_OF_MEMORY = "OutOfMemory", "Out of memory"
    EXIT_CODE = "ExitCode", "Error in the training code"
    IMAGE = "Image", "Image cannot be pulled"
    SCHEDULING = "Scheduling", "Could not be scheduled"
    DEADLINE = "Deadline", "Deadline exceeded"
    EVICTED = "Evicted", "Evicted or preempted"
    NODE_LOST = "NodeLost", "Node lost"
    UNKNOWN = "Unknown", "Unknown"


# Statuses in which a job can be waiting for something (placement, pods to start).
WAITING_STATUSES = ACTIVE_STATUSES


# Reasons the background chains leave on a job that they stopped retrying.
DELETE_FAILED_REASON = "DeleteFailed"
INTERNAL_ERROR_REASON = "InternalError"


WAITING_LAYERS = {
    "karmada": "Karmada cannot place it",
    "member": "Pods Pending in the member",
    "image": "Image cannot be pulled",
    "partial": "Some replicas wait",
}


class TrainingJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=63, help_text="jobName as the user gave it")
    namespace = models.CharField(max_length=63, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="jobs"
    )

    framework = models.CharField(max_length=20, choices=Framework.choices)
    # Fixed at creation: switching TRAINING_BACKEND changes new jobs only, and a job's
    # status is read from the kind it was sent as.
    backend = models.CharField(
        max_length=2, choices=TrainingBackend.choices, default=TrainingBackend.V1
    )
    algorithm_source = models.CharField(
        max_length=10, choices=AlgorithmSource.choices, default=AlgorithmSource.DEFAULT
    )
    algorithm_name = models.CharField(max_length=100, blank=True)
    image = models.CharField(max_length=500, help_text="container image actually used")
    command = models.JSONField(default=list, blank=True)

    cpu_cores = models.FloatField()
    memory_gib = models.FloatField()
    gpu_count = models.PositiveIntegerField(default=0)
    instance_count = models.PositiveIntegerField(default=1)
    volume_size_gb = models.PositiveIntegerField(default=0)

    hyperparameters = models.JSONField(
        default=dict, blank=True, help_text="validated, with defaults"
    )
    target_clusters = models.JSONField(default=list, blank=True, help_text="as requested")
    candidate_clusters = models.JSONField(default=list, blank=True, help_text="as sent to Karmada")
    run_policy = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    # One of settings.JOB_PRIORITIES (highest first): the queue admits higher ones first.
    priority = models.CharField(max_length=63, default="normal")
    # 1 for the next job of its namespace to be admitted; None unless Queued. Written by the
    # admission pass, so lists show it without recomputing the queue per row.
    queue_position = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    status_reason = models.CharField(max_length=200, blank=True)
    status_message = models.TextField(blank=True)
    cluster = models.CharField(max_length=253, blank=True, help_text="member cluster it landed on")

    k8s_name = models.CharField(
        max_length=63, unique=True, help_text="name of every object on Karmada"
    )
    manifests = models.JSONField(
        default=list, blank=True, help_text="exactly what was sent to Karmada"
    )
    submit_attempts = models.PositiveIntegerField(default=0)
    # The one submit chain allowed to act on the job: a task carrying another token was
    # superseded (by the sweep or a resubmit) and stops, so retries never run twice.
    submit_token = models.UUIDField(null=True, blank=True, editable=False)
    # When the submit or delete chain will try again; None while nothing is scheduled.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # First time the sync found the workload gone from Karmada; Failed only if a later
    # check, some seconds on, confirms it.
    missing_since = models.DateTimeField(null=True, blank=True)
    # When the platform removed a finished job's objects from Karmada (its TTL ran out).
    cleaned_up_at = models.DateTimeField(null=True, blank=True)

    # Why the job waits, naming the layer (karmada: not placed; member: pods Pending there;
    # image: an image cannot be pulled), as the status sync (Karmada) or the pod insight
    # pass (member) last found it. Empty when it does not wait.
    waiting_layer = models.CharField(max_length=20, blank=True)
    waiting_reason = models.CharField(max_length=200, blank=True)
    waiting_message = models.TextField(blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Set when the job fails: the first replica that failed and how, and its class.
    failure_class = models.CharField(
        max_length=20, choices=FailureClass.choices, blank=True, db_index=True
    )
    failure_summary = models.TextField(blank=True)
    # The job's pods per replica type as last read from its member cluster (the wire shape
    # of the API's ``replicas``), so pages and the API never read the member for it.
    replica_status = models.JSONField(default=list, blank=True)
    # When the pods were last read into replica_status; None: not yet.
    insight_at = models.DateTimeField(null=True, blank=True)
    # A finished job whose last read still found pods pending or running: the operator is
    # about to remove them (cleanPodPolicy), so the insight pass reads it again until they
    # are gone or have ended, and the table does not go on saying "Running". A default in
    # the database too: the previous release's pods insert rows during a rolling upgrade.
    replicas_unsettled = models.BooleanField(default=False, db_default=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["namespace", "status"]),
            # The sync, the sweeps and the queue select by status across namespaces; the
            # list pages a namespace's jobs newest first, among tens of thousands.
            models.Index(fields=["status"], name="jobs_job_status_idx"),
            models.Index(fields=["namespace", "-created_at"], name="jobs_job_ns_created_idx"),
        ]
        permissions = [
            (
                "operate_all_namespaces",
                "Can see and manage jobs in every namespace (platform operator)",
            )
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def can_delete(self) -> bool:
        if self.status == JobStatus.DELETING:
            # A delete Karmada refused for good can be asked again once the cause is fixed.
            return self.status_reason == DELETE_FAILED_REASON
        return self.status != JobStatus.DELETED

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING_STATUSES and bool(self.waiting_reason)

    @property
    def waiting_line(self) -> str:
        """The one-line waiting reason the list and the API show; empty when not waiting."""
        if not self.is_waiting:
            return ""
        layer = WAITING_LAYERS.get(self.waiting_layer, self.waiting_layer)
        first = (self.waiting_message or "").strip().splitlines()
        return f"{layer}: {self.waiting_reason}" + (f": {first[0]}" if first else "")

    def _seconds(self, start: Any, end: Any) -> float | None:
        if start is None:
            return None
        if end is None:
            if self.is_final or self.status in (JobStatus.DELETING, JobStatus.DELETED):
                return None
            end = timezone.now()
        return max(0.0, (end - start).total_seconds())

    @property
    def queued_seconds(self) -> float | None:
        """Created until its first pod ran: every wait before running (platform queue,
        Karmada placement, the member's scheduler). Still counting while it has not run."""
        if self.started_at is not None:
            return self._seconds(self.created_at, self.started_at)
        if self.finished_at is not None:  # ended without running (refused, failed early)
            return self._seconds(self.created_at, self.finished_at)
        return self._seconds(self.created_at, None)

    @property
    def running_seconds(self) -> float | None:
        return self._seconds(self.started_at, self.finished_at)

    @property
    def total_seconds(self) -> float | None:
        return self._seconds(self.created_at, self.finished_at)

    @property
    def can_resubmit(self) -> bool:
        return self.status in {JobStatus.SUBMIT_FAILED, JobStatus.PENDING}


class JobEvent(models.Model):
    """One status transition of a job: the history shown on its page."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    cluster = models.CharField(max_length=253, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class NamespaceGrant(models.Model):
    """Lets a user, or every member of a group, see and manage jobs in one namespace."""

    namespace = models.CharField(max_length=63, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="namespace_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="namespace_grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="grant_user_xor_group",
            ),
            models.UniqueConstraint(fields=["namespace", "user"], name="uniq_grant_user"),
            models.UniqueConstraint(fields=["namespace", "group"], name="uniq_grant_group"),
        ]

    def __str__(self) -> str:
        who = self.user or self.group
        return f"{who} → {self.namespace}"

    def clean(self) -> None:
        pattern = system_namespace_rule(self.namespace or "")
        if pattern:
            raise ValidationError(
                {
                    "namespace": system_namespace_reason(
                        self.namespace, pattern, refused="it cannot be granted."
                    )
                }
            )


class NamespaceQuota(models.Model):
    """What one namespace may hold at once across every member cluster (``None`` =
    unlimited), optionally per cluster, and which priorities its jobs may use.

    Namespaces without a row get the defaults from settings (``QUOTA_DEFAULT_*``)."""

    namespace = models.CharField(max_length=63, unique=True)
    gpus = models.PositiveIntegerField(null=True, blank=True, help_text="empty: unlimited")
    cpu_cores = models.FloatField(null=True, blank=True, help_text="empty: unlimited")
    memory_gib = models.FloatField(null=True, blank=True, help_text="empty: unlimited")
    running_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="admitted, unfinished jobs; empty: unlimited"
    )
    # ["high", "normal"]; None: every priority in settings.JOB_PRIORITIES.
    priorities = models.JSONField(null=True, blank=True, help_text="empty: every priority")
    # {"member-cluster-1": {"gpus": 4, "cpuCores": null, "memoryGiB": null,
    #  "runningJobs": null}}: extra limits inside one cluster; None: none.
    clusters = models.JSONField(null=True, blank=True, help_text="per-cluster limits")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace"]

    def __str__(self) -> str:
        return f"quota of {self.namespace}"


def _log_archive_storage() -> Any:
    # Resolved when used, so tests and deployments can point STORAGES["log_archive"]
    # elsewhere (a directory under var/, an S3 bucket through django-storages).
    from django.core.files.storage import storages

    return storages["log_archive"]


class PodLogArchive(models.Model):
    """The log of one container of one of a job's pods, kept after the pod is gone: the
    last ``LOG_ARCHIVE_MAX_MIB`` of it, in the ``log_archive`` storage."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="log_archives")
    pod = models.CharField(max_length=253)
    container = models.CharField(max_length=253)
    main = models.BooleanField(default=False, help_text="the container whose log is shown")
    cluster = models.CharField(max_length=253, blank=True)
    phase = models.CharField(max_length=20, blank=True, help_text="the pod's phase when read")
    file = models.FileField(storage=_log_archive_storage, max_length=500)
    size = models.PositiveBigIntegerField(default=0, help_text="bytes kept")
    truncated = models.BooleanField(default=False, help_text="older lines were cut off")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pod", "container"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "pod", "container"], name="uniq_log_archive_container"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pod}/{self.container}"
