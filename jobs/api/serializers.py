"""Wire shapes shared by several API views: the job as JSON, and the request body as the
schema documents it.

The output is camelCase and nested like the request, so a client can take a job it read,
change a field and POST it back. Request *validation* is not done here but by
``jobs.specs.parse_job_request`` (the pages use it too); ``JobRequestSerializer`` only
describes the body for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs import selectors, specs
from jobs.models import AlgorithmSource, Framework, JobStatus, TrainingJob

# --- output -------------------------------------------------------------------------


class AlgorithmOutputSerializer(serializers.Serializer):
    """Echoes the request's ``algorithm`` so it can be POSTed back as it is: the request
    refuses ``image`` for a built-in algorithm and an empty ``command``, so those come back
    as null (the built-in image a job runs is in its detail's ``manifests``)."""

    source = serializers.ChoiceField(choices=AlgorithmSource.choices, source="algorithm_source")
    algorithmName = serializers.CharField(source="algorithm_name")
    framework = serializers.ChoiceField(choices=Framework.choices)
    image = serializers.SerializerMethodField(help_text="The custom image; null when built-in.")
    command = serializers.SerializerMethodField(help_text="The entrypoint override, or null.")

    def get_image(self, job: TrainingJob) -> str | None:
        return job.image if job.algorithm_source == AlgorithmSource.CUSTOM else None

    def get_command(self, job: TrainingJob) -> list[str] | None:
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


class JobOutputSerializer(serializers.Serializer):
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
        return JobEventOutputSerializer(selectors.job_events(job=job), many=True).data


# --- request (documentation only) -----------------------------------------------------


class AlgorithmRequestSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=AlgorithmSource.choices,
        default=AlgorithmSource.DEFAULT,
        help_text="`default`: the framework's built-in image; `custom`: your `image`.",
    )
    algorithmName = serializers.CharField(
        required=False,
        max_length=100,
        help_text="With `source: default`, the framework name (e.g. `xgboost`).",
    )
    framework = serializers.ChoiceField(
        choices=Framework.choices,
        required=False,
        help_text="The framework; taken from `algorithmName` (or the only key of "
        "`hyperparameters`) when omitted. Required for a custom algorithm.",
    )
    image = serializers.CharField(
        required=False, max_length=500, help_text="Container image; `custom` only (required)."
    )
    command = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        min_length=1,
        max_length=specs.MAX_COMMAND_ITEMS,
        help_text="Overrides the image's entrypoint; `custom` only.",
    )


class InstanceResourcesRequestSerializer(serializers.Serializer):
    cpuCores = serializers.FloatField(
        min_value=0, max_value=specs.MAX_CPU_CORES, help_text="Per instance; more than 0."
    )
    memoryGiB = serializers.FloatField(
        min_value=0, max_value=specs.MAX_MEMORY_GIB, help_text="Per instance; more than 0."
    )
    gpuCount = serializers.IntegerField(
        min_value=0, max_value=specs.MAX_GPUS, default=0, help_text="Per instance."
    )


class ResourcesRequestSerializer(serializers.Serializer):
    instanceResources = InstanceResourcesRequestSerializer()
    instanceCount = serializers.IntegerField(
        min_value=1,
        max_value=specs.MAX_INSTANCES,
        default=1,
        help_text="Training instances (pods); an MPI launcher is not counted.",
    )
    volumeSizeGB = serializers.IntegerField(
        min_value=0,
        max_value=specs.MAX_VOLUME_GB,
        default=0,
        help_text="Scratch volume mounted at /opt/ml on every instance; 0 for none.",
    )


class RunPolicyRequestSerializer(serializers.Serializer):
    activeDeadlineSeconds = serializers.IntegerField(
        required=False, min_value=1, max_value=specs.INT32_MAX
    )
    backoffLimit = serializers.IntegerField(required=False, min_value=0, max_value=100)
    ttlSecondsAfterFinished = serializers.IntegerField(
        required=False, min_value=0, max_value=specs.INT32_MAX
    )
    cleanPodPolicy = serializers.ChoiceField(choices=list(specs.CLEAN_POD_POLICIES), required=False)


class JobRequestSerializer(serializers.Serializer):
    """The request body (what ``jobs.specs.parse_job_request`` accepts); unknown keys are
    refused, null counts as not given."""

    class Meta:
        ref_name = "JobRequest"

    jobName = serializers.RegexField(
        specs.JOB_NAME_RE.pattern,
        max_length=specs.JOB_NAME_MAX,
        help_text="Lower-case letters, digits and '-', starting with a letter.",
    )
    namespace = serializers.CharField(
        required=False,
        default="default",
        max_length=63,
        help_text="Kubernetes namespace; you need access to it.",
    )
    algorithm = AlgorithmRequestSerializer(required=False)
    resources = ResourcesRequestSerializer()
    hyperparameters = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        help_text='`{"<framework>": {name: value}}`; see GET /api/v1/frameworks for the '
        "names, types, ranges and defaults.",
    )
    targetClusters = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        help_text="Member clusters the job may run on (it runs whole on one of them). "
        "Empty: any ready cluster with room.",
    )
    runPolicy = RunPolicyRequestSerializer(required=False)
    labels = serializers.DictField(
        child=serializers.CharField(max_length=63, allow_blank=True),
        required=False,
        help_text=f"Kubernetes labels put on the job's objects; at most {specs.MAX_LABELS}.",
    )


# --- errors (documentation only) ------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Dotted camelCase path of the request field (or query parameter) → reasons.",
    )


class ErrorSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Error"

    error = ErrorDetailSerializer()
