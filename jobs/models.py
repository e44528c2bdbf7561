from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

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


# Statuses after which nothing changes on its own: the UI stops polling, the sync skips them.
FINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DELETED, JobStatus.SUBMIT_FAILED}
)
# Statuses whose objects live on Karmada and are followed by the status sync.
ACTIVE_STATUSES = frozenset(
    {JobStatus.SUBMITTED, JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.RESTARTING}
)


# Reasons the background chains leave on a job that they stopped retrying.
DELETE_FAILED_REASON = "DeleteFailed"
INTERNAL_ERROR_REASON = "InternalError"


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

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["namespace", "status"])]
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
