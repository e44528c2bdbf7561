"""Wire shapes shared by several API views: the job as JSON, and the request body as the
schema documents it.

The output is camelCase and nested like the request, so a client can take a job it read,
change a field and POST it back. The request is defined once, in ``jobs.specs.REQUEST``:
``jobs.specs.parse_job_request`` validates against it (the pages use it too) and the
request's OpenAPI components are generated from it here.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from jobs import selectors, specs
from jobs.models import AlgorithmSource, FailureClass, Framework, JobStatus, TrainingJob

# --- output -------------------------------------------------------------------------


class AlgorithmOutputSerializer(serializers.Serializer):
    """Echoes the request's ``algorithm`` so it can be POSTed back as it is: the request
    refuses ``image`` for a built-in algorithm and an empty ``command``, so those come back
    as null (the built-in image a job runs is in its detail's ``manifests``)."""

    # The wire name clashes with ``Field.source`` only in the stubs: DRF's serializer
    # metaclass takes declared fields off the class, so nothing is shadowed at runtime.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=AlgorithmSource.choices, source="algorithm_source"
    )
    algorithmName = serializers.CharField(source="algorithm_name")
    framework = serializers.ChoiceField(choices=Framework.choices)
    image = serializers.SerializerMethodField(help_text="The custom image; null when built-in.")
    command = serializers.SerializerMethodField(help_text="The entrypoint override, or null.")

    def get_image(self, job: TrainingJob) -> str | None:
        return _custom_image(job)

    def get_command(self, job: TrainingJob) -> list[str] | None:
        return _command(job)


def _custom_image(job: TrainingJob) -> str | None:
    return job.image if job.algorithm_source == AlgorithmSource.CUSTOM else None


def _command(job: TrainingJob) -> list[str] | None:
    return list(job.command) or None


class InstanceResourcesOutputSerializer(serializers.Serializer):
    cpuCores = serializers.FloatField(source="cpu_cores")
    memoryGiB = serializers.FloatField(source="memory_gib")
    gpuCount = serializers.IntegerField(source="gpu_count")


class ResourcesOutputSerializer(serializers.Serializer):
    instanceResources = InstanceResourcesOutputSerializer(source="*")
    instanceCount = serializers.IntegerField(source="instance_count")
    volumeSizeGB = serializers.IntegerField(source="volume_size_gb")


@extend_schema_field(
    {
        "type": "object",
        "description": "One key, the framework, holding its hyperparameters (with defaults).",
        "additionalProperties": {"type": "object", "additionalProperties": True},
        "example": {"xgboost": {"num_round": 100, "eta": 0.3, "max_depth": 6}},
    }
)
class HyperparametersField(serializers.Field):
    """The model keeps the framework's values flat; the wire nests them under the framework
    name, as the request does."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, job: TrainingJob) -> dict[str, Any]:
        return {job.framework: job.hyperparameters or {}}


class WaitingOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "JobWaiting"

    layer = serializers.ChoiceField(
        choices=["karmada", "member", "image", "partial"],
        source="waiting_layer",
        help_text="karmada: Karmada could not place the job; member: its pods are Pending in "
        "the member cluster; image: an image cannot be pulled; partial: some replicas run "
        "while others wait.",
    )
    reason = serializers.CharField(
        source="waiting_reason", help_text="Unschedulable, ErrImagePull, ImagePullBackOff, …"
    )
    message = serializers.CharField(source="waiting_message", help_text="The full text.")
    since = serializers.DateTimeField(source="waiting_since", allow_null=True)
    seconds = serializers.SerializerMethodField(help_text="How long it has waited so far.")

    def get_seconds(self, job: TrainingJob) -> float | None:
        return _waited_seconds(job)


def _waited_seconds(job: TrainingJob) -> float | None:
    if job.waiting_since is None:
        return None
    return max(0.0, round((timezone.now() - job.waiting_since).total_seconds(), 1))


class ReplicaPodOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "JobReplicaPod"

    name = serializers.CharField()
    type = serializers.CharField()
    index = serializers.IntegerField(allow_null=True)
    phase = serializers.CharField()
    ready = serializers.BooleanField()
    restarts = serializers.IntegerField()
    exitCode = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(
        help_text="Termination reason (OOMKilled, Error, Completed), the pod's (Evicted, "
        "DeadlineExceeded) or, while it waits, why (Unschedulable, ErrImagePull)."
    )
    message = serializers.CharField()
    waitingReason = serializers.CharField()
    waitingMessage = serializers.CharField()
    image = serializers.CharField()
    node = serializers.CharField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)


class ReplicaGroupOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "JobReplicas"

    type = serializers.CharField(help_text="master, worker, chief, launcher…")
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    running = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    pods = ReplicaPodOutputSerializer(many=True)


class JobInsightFieldsMixin(serializers.Serializer):
    """Why a job waits, how it failed, its replicas and durations: read from the job's row
    (the status sync and the insight pass store them), never from the cluster."""

    waitingReason = serializers.SerializerMethodField(
        help_text="One line naming the layer the job waits in and why; null when not waiting."
    )
    waiting = serializers.SerializerMethodField(help_text="The wait in full; null when none.")
    failureClass = serializers.SerializerMethodField(
        help_text="Null unless Failed: OutOfMemory, ExitCode, Image, Scheduling, Deadline, "
        "Evicted, NodeLost or Unknown."
    )
    failureSummary = serializers.SerializerMethodField(
        help_text="Null unless Failed: the first replica that failed and how, e.g. "
        "'worker-1 exited with code 137 (OOMKilled) after 2 restarts'."
    )
    replicas = serializers.SerializerMethodField(
        help_text="Per replica type: counts by phase and a row per pod, as last read from the "
        "member cluster (when the job ended, or every JOB_INSIGHT_INTERVAL while it runs)."
    )
    replicasReadAt = serializers.DateTimeField(source="insight_at", allow_null=True)
    queuedSeconds = serializers.SerializerMethodField(
        help_text="From creation until it started running (every wait: queue, placement, "
        "scheduling); still counting while it has not started."
    )
    runningSeconds = serializers.SerializerMethodField(
        help_text="From its start until it finished (or now); null before it starts."
    )
    totalSeconds = serializers.SerializerMethodField(
        help_text="From creation until it finished (or now)."
    )

    def get_waitingReason(self, job: TrainingJob) -> str | None:
        return job.waiting_line or None

    @extend_schema_field(WaitingOutputSerializer(allow_null=True))
    def get_waiting(self, job: TrainingJob) -> dict[str, Any] | None:
        if not job.is_waiting:
            return None
        return cast(dict[str, Any], WaitingOutputSerializer(job).data)

    @extend_schema_field(serializers.ChoiceField(choices=FailureClass.choices, allow_null=True))
    def get_failureClass(self, job: TrainingJob) -> str | None:
        if job.status != JobStatus.FAILED:
            return None
        return job.failure_class or FailureClass.UNKNOWN

    def get_failureSummary(self, job: TrainingJob) -> str | None:
        if job.status != JobStatus.FAILED:
            return None
        return job.failure_summary or job.status_message or None

    @extend_schema_field(ReplicaGroupOutputSerializer(many=True))
    def get_replicas(self, job: TrainingJob) -> list[dict[str, Any]]:
        return list(job.replica_status or [])

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_queuedSeconds(self, job: TrainingJob) -> float | None:
        return _rounded(job.queued_seconds)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_runningSeconds(self, job: TrainingJob) -> float | None:
        return _rounded(job.running_seconds)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_totalSeconds(self, job: TrainingJob) -> float | None:
        return _rounded(job.total_seconds)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


class JobOutputSerializer(JobInsightFieldsMixin):
    class Meta:
        ref_name = "Job"

    id = serializers.UUIDField()
    jobName = serializers.CharField(source="name")
    namespace = serializers.CharField()
    framework = serializers.ChoiceField(choices=Framework.choices)
    algorithm = AlgorithmOutputSerializer(source="*")
    resources = ResourcesOutputSerializer(source="*")
    hyperparameters = HyperparametersField()
    targetClusters = serializers.ListField(
        child=serializers.CharField(),
        source="target_clusters",
        help_text="As requested; empty means any ready cluster that fits.",
    )
    runPolicy = serializers.DictField(source="run_policy")
    labels = serializers.DictField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=JobStatus.choices)
    statusReason = serializers.CharField(source="status_reason")
    statusMessage = serializers.CharField(source="status_message")
    cluster = serializers.CharField(help_text="The member cluster the job landed on, if any.")
    kubernetesName = serializers.CharField(source="k8s_name")
    owner = serializers.CharField(
        source="owner.username", allow_null=True, help_text="Username; null once deleted."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    submittedAt = serializers.DateTimeField(source="submitted_at", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    nextAttemptAt = serializers.DateTimeField(
        source="next_attempt_at",
        allow_null=True,
        help_text="When a submit or delete that failed for now is tried again; null otherwise.",
    )
    cleanedUpAt = serializers.DateTimeField(
        source="cleaned_up_at",
        allow_null=True,
        help_text="When the platform removed the finished job from Karmada "
        "(runPolicy.ttlSecondsAfterFinished); null while it is still there.",
    )
    priority = serializers.CharField(
        help_text="Queue priority (one of the operator's, highest first in GET /api/v1/queue)."
    )
    queuePosition = serializers.IntegerField(
        source="queue_position",
        allow_null=True,
        help_text="While Queued: 1 for the next job of its namespace to be admitted; null "
        "otherwise. statusMessage says in words why it waits.",
    )

    def to_representation(self, instance: TrainingJob) -> dict[str, Any]:
        """The declared fields, written out.

        DRF's generic walk resolves every one of the ~35 fields' sources and dispatches their
        ``to_representation`` per job: two thirds of the CPU of a list page of 50. The
        declared fields stay the schema and the reference: ``test_serializers`` checks this
        against DRF's own walk for jobs in every state. A field a subclass adds (the detail's
        events and manifests) goes through DRF as usual."""
        job = instance
        iso = getattr(self, "_iso", None) or _iso_datetime()
        self._iso = iso  # one time zone for a whole page
        waiting = None
        if job.is_waiting:
            waiting = {
                "layer": job.waiting_layer,
                "reason": job.waiting_reason,
                "message": job.waiting_message,
                "since": iso(job.waiting_since),
                "seconds": _waited_seconds(job),
            }
        owner = job.owner
        data: dict[str, Any] = {
            "waitingReason": self.get_waitingReason(job),
            "waiting": waiting,
            "failureClass": self.get_failureClass(job),
            "failureSummary": self.get_failureSummary(job),
            "replicas": self.get_replicas(job),
            "replicasReadAt": iso(job.insight_at),
            "queuedSeconds": self.get_queuedSeconds(job),
            "runningSeconds": self.get_runningSeconds(job),
            "totalSeconds": self.get_totalSeconds(job),
            "id": str(job.id),
            "jobName": job.name,
            "namespace": job.namespace,
            "framework": job.framework,
            "algorithm": {
                "source": job.algorithm_source,
                "algorithmName": job.algorithm_name,
                "framework": job.framework,
                "image": _custom_image(job),
                "command": _command(job),
            },
            "resources": {
                "instanceResources": {
                    "cpuCores": float(job.cpu_cores),
                    "memoryGiB": float(job.memory_gib),
                    "gpuCount": int(job.gpu_count),
                },
                "instanceCount": int(job.instance_count),
                "volumeSizeGB": int(job.volume_size_gb),
            },
            "hyperparameters": {job.framework: job.hyperparameters or {}},
            "targetClusters": [str(name) for name in job.target_clusters],
            "runPolicy": {str(key): value for key, value in job.run_policy.items()},
            "labels": {
                str(key): None if value is None else str(value) for key, value in job.labels.items()
            },
            "status": job.status,
            "statusReason": job.status_reason,
            "statusMessage": job.status_message,
            "cluster": job.cluster,
            "kubernetesName": job.k8s_name,
            "owner": None if owner is None else owner.username,
            "createdAt": iso(job.created_at),
            "updatedAt": iso(job.updated_at),
            "submittedAt": iso(job.submitted_at),
            "startedAt": iso(job.started_at),
            "finishedAt": iso(job.finished_at),
            "nextAttemptAt": iso(job.next_attempt_at),
            "cleanedUpAt": iso(job.cleaned_up_at),
            "priority": job.priority,
            "queuePosition": None if job.queue_position is None else int(job.queue_position),
        }
        for field in self._fields_of_subclass():
            attribute = field.get_attribute(job)
            data[str(field.field_name)] = (
                None if attribute is None else field.to_representation(attribute)
            )
        return data

    def _fields_of_subclass(self) -> list[serializers.Field]:
        """Readable fields that ``JobOutputSerializer`` does not declare (computed once per
        serializer: a list serializer reuses one child for every job). Without any, the
        bound fields are never built: DRF deep-copies every declaration to build them."""
        extra = getattr(self, "_extra_fields", None)
        if extra is None:
            own = JobOutputSerializer._declared_fields
            extra = []
            if set(type(self)._declared_fields) - set(own):
                extra = [f for f in self._readable_fields if f.field_name not in own]
            self._extra_fields = extra
        return extra


def _iso_datetime() -> Any:
    """DRF's ISO 8601 datetime output (in the current time zone, ``Z`` for UTC) as one
    function, resolved once per job instead of once per field."""
    if api_settings.DATETIME_FORMAT != ISO_8601:
        return serializers.DateTimeField().to_representation
    tz = timezone.get_current_timezone()

    def iso(value: Any) -> str | None:
        if not value:
            return None
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


class JobEventOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "JobEvent"

    time = serializers.DateTimeField(source="created_at")
    # "from" is a Python keyword, so the field is declared under another name and renamed.
    from_ = serializers.CharField(source="from_status")
    to = serializers.CharField(source="to_status")
    reason = serializers.CharField()
    message = serializers.CharField()
    cluster = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class JobDetailOutputSerializer(JobOutputSerializer):
    class Meta:
        ref_name = "JobDetail"

    events = serializers.SerializerMethodField(help_text="Status history, oldest first.")
    manifests = serializers.ListField(
        child=serializers.DictField(),
        help_text="Exactly what was sent to Karmada: the workload and its PropagationPolicy.",
    )

    @extend_schema_field(JobEventOutputSerializer(many=True))
    def get_events(self, job: TrainingJob) -> list[dict[str, Any]]:
        # many=True makes a ListSerializer, whose data is a list of dicts; the stubs type the
        # constructor as the plain serializer and its data as one dict.
        events = JobEventOutputSerializer(selectors.job_events(job=job), many=True).data
        return cast(list[dict[str, Any]], events)


# --- request (schema only) --------------------------------------------------------------


class JobRequestSerializer(serializers.Serializer):
    """The create body in the OpenAPI schema. It declares nothing itself: ``JobRequestSchema``
    below turns ``jobs.specs.REQUEST`` — the definition ``parse_job_request`` enforces and the
    form is built from — into the ``JobRequest`` component and its nested ones, so the
    documented limits cannot drift from the enforced ones."""

    class Meta:
        ref_name = "JobRequest"


class JobRequestSchema(OpenApiSerializerExtension):
    target_class = JobRequestSerializer

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        return specs.REQUEST.component

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        oas_30 = str(spectacular_settings.OAS_VERSION).startswith("3.0")
        components = specs.request_json_schema(oas_30=oas_30)
        # The allowed priorities are the operator's (JOB_PRIORITIES), not the built-in list.
        priority = components[specs.REQUEST.component]["properties"]["priority"]
        priority["enum"] = list(settings.JOB_PRIORITIES)
        for schema in components.values():
            for prop in schema.get("properties", {}).values():
                _share_framework_enum(prop)
        root = components.pop(specs.REQUEST.component)
        for name, schema in components.items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
                )
            )
        return root


def _share_framework_enum(prop: dict[str, Any]) -> None:
    """Give the request's framework the same enum identity as the job's, so the schema has
    one ``FrameworkEnum`` rather than two near-identical ones (same values, other order)."""
    if set(prop.get("enum", ())) != set(Framework.values):
        return
    choice = build_choice_field(serializers.ChoiceField(choices=Framework.choices))
    prop["enum"] = choice["enum"]
    prop["x-spec-enum-id"] = choice["x-spec-enum-id"]


# --- errors (documentation only) ------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    # As ``AlgorithmOutputSerializer.source``: the metaclass takes the declared field off the
    # class, so ``Serializer.fields`` is not shadowed at runtime.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Dotted camelCase path of the request field (or query parameter) → reasons.",
    )


class ErrorSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Error"

    error = ErrorDetailSerializer()
