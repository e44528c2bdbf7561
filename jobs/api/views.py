"""The REST API: one view per operation, HTTP in and out only. Reads go through
``jobs.selectors``, writes through ``jobs.services``; errors become the one error shape in
``jobs.api.errors``."""

from __future__ import annotations

import itertools
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.client import ClusterError, get_client
from jobs import archive, selectors, services
from jobs.api.base import ApiView
from jobs.api.errors import ApiError
from jobs.api.pagination import JobPagination
from jobs.api.serializers import (
    ErrorSerializer,
    JobDetailOutputSerializer,
    JobOutputSerializer,
    JobRequestSerializer,
)
from jobs.exceptions import PodNotFound
from jobs.frameworks import FRAMEWORKS
from jobs.models import FailureClass, Framework, JobStatus, PodLogArchive, TrainingJob

README_EXAMPLE = {
    "jobName": "xgboost-training",
    "namespace": "default",
    "algorithm": {"source": "default", "algorithmName": "xgboost"},
    "resources": {
        "instanceResources": {"cpuCores": 4, "memoryGiB": 8, "gpuCount": 0},
        "instanceCount": 1,
        "volumeSizeGB": 20,
    },
    "hyperparameters": {
        "xgboost": {"num_round": 100, "eta": 0.3, "max_depth": 6, "objective": "binary:logistic"}
    },
    "targetClusters": ["member-cluster-1"],
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "Invalid request; `fields` names each offending path.",
        401: "No or invalid credentials.",
        403: "Not allowed (e.g. no access to the namespace).",
        404: "No such job, or not visible to you.",
        409: "The job's status does not allow this.",
        415: "The body is not JSON.",
        429: "Over the request rate (per user, or per address without valid credentials); "
        "`Retry-After` says when to try again.",
        502: "Karmada refused to read from the job's member cluster.",
        503: "Karmada or the job's member cluster is unreachable; retry later.",
    }
    # Every operation that takes credentials is rate-limited.
    return {c: OpenApiResponse(ErrorSerializer, description=text[c]) for c in (*codes, 429)}


def _get_job(request: Request, job_id: str) -> TrainingJob:
    try:
        return selectors.job_get(user=request.user, job_id=job_id)
    except TrainingJob.DoesNotExist:
        # The same answer for "no such job" and "not yours": outsiders learn nothing.
        raise ApiError("Job not found.", status_code=404) from None


# --- jobs -----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class CommaListField(serializers.Field):
    """``a,b,c`` (or the parameter repeated) → a list; optionally restricted to choices."""

    def __init__(self, *, choices: list[str] | None = None, max_length: int = 253, **kwargs: Any):
        self.choices = choices
        self.item_max_length = max_length
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        items = [item.strip() for item in str(data).split(",") if item.strip()]
        if len(items) > 50:
            raise serializers.ValidationError("At most 50 values.")
        for item in items:
            if "\x00" in item:
                # PostgreSQL refuses NUL in a query parameter with an exception, not a miss.
                raise serializers.ValidationError("Null characters are not allowed.")
            if len(item) > self.item_max_length:
                raise serializers.ValidationError(
                    f"Values are at most {self.item_max_length} characters."
                )
            if self.choices is not None and item not in self.choices:
                raise serializers.ValidationError(
                    f"{item!r} is not one of: {', '.join(self.choices)}."
                )
        return items

    def to_representation(self, value: list[str]) -> str:
        return ",".join(value)


ORDERINGS = [prefix + name for name in selectors.ORDERING_FIELDS for prefix in ("", "-")]


class JobListApi(ApiView):
    """Jobs in the namespaces you have access to (all of them for operators), newest first."""

    class FilterSerializer(serializers.Serializer):
        status = CommaListField(
            choices=list(JobStatus.values), help_text="Comma-separated statuses."
        )
        framework = CommaListField(
            choices=list(Framework.values), help_text="Comma-separated frameworks."
        )
        namespace = CommaListField(max_length=63, help_text="Comma-separated namespaces.")
        cluster = CommaListField(help_text="Comma-separated member clusters the jobs ran on.")
        failureClass = CommaListField(
            choices=list(FailureClass.values),
            help_text="Comma-separated failure classes (Failed jobs only).",
            source="failure_class",
        )
        search = serializers.CharField(
            required=False, max_length=100, help_text="Part of the job name (any case)."
        )
        ordering = serializers.ChoiceField(
            choices=ORDERINGS,
            required=False,
            default="-createdAt",
            help_text="A field name; `-` in front sorts descending.",
        )

    @extend_schema(
        operation_id="jobs_list",
        tags=["jobs"],
        summary="List the jobs you can see",
        parameters=[FilterSerializer],
        responses={200: JobOutputSerializer(many=True), **_errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=_query_dict(request, self.FilterSerializer))
        if not filters.is_valid():
            raise ApiError("Invalid query parameters.", fields=_flat_errors(filters.errors))
        jobs = selectors.job_list(user=request.user, filters=filters.validated_data)
        paginator = JobPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(JobOutputSerializer(page, many=True).data)

    # drf-spectacular reads pagination from the view to document the envelope.
    pagination_class = JobPagination


def _query_dict(request: Request, serializer_class: type[serializers.Serializer]) -> dict:
    """Only the parameters the serializer knows (page, pageSize are the paginator's); a
    repeated parameter counts as a comma list."""
    data = {}
    for name in serializer_class().fields.keys():
        values = request.query_params.getlist(name)
        if values:
            data[name] = ",".join(values) if len(values) > 1 else values[0]
    return data


def _flat_errors(errors: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [str(e) for e in reasons] for name, reasons in errors.items()}


class JobCreateApi(ApiView):
    """Validates the request, stores the job as Pending and submits it to Karmada in the
    background. Field errors name the dotted path of the request field."""

    InputSerializer = JobRequestSerializer  # documentation only; jobs.specs validates
    OutputSerializer = JobOutputSerializer

    @extend_schema(
        operation_id="jobs_create",
        tags=["jobs"],
        summary="Create a training job",
        request=JobRequestSerializer,
        responses={201: JobOutputSerializer, **_errors(400, 401, 403, 415)},
        examples=[OpenApiExample("XGBoost", value=README_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApiError("The request body must be a JSON object.")
        job = services.job_create(user=request.user, data=request.data)
        location = reverse("api:job-detail", kwargs={"job_id": job.id})
        return Response(
            self.OutputSerializer(job).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class JobDetailApi(ApiView):
    """One job with its status history and the manifests sent to Karmada."""

    OutputSerializer = JobDetailOutputSerializer

    @extend_schema(
        operation_id="jobs_retrieve",
        tags=["jobs"],
        summary="A job with its status history and manifests",
        responses={200: JobDetailOutputSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = _get_job(request, job_id)
        return Response(self.OutputSerializer(job).data)


class JobDeleteApi(ApiView):
    """Marks the job Deleting and removes it from Karmada in the background; it becomes
    Deleted once its objects are gone."""

    OutputSerializer = JobOutputSerializer

    @extend_schema(
        operation_id="jobs_destroy",
        tags=["jobs"],
        summary="Delete a job",
        request=None,
        responses={202: JobOutputSerializer, **_errors(401, 404, 409)},
    )
    def delete(self, request: Request, job_id: str) -> Response:
        job = services.job_delete(job=_get_job(request, job_id), user=request.user)
        return Response(self.OutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobStatusApi(ApiView):
    """The job's status, cheap enough to poll."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        jobName = serializers.CharField(source="name")
        status = serializers.ChoiceField(choices=JobStatus.choices)
        reason = serializers.CharField(source="status_reason")
        message = serializers.CharField(source="status_message")
        cluster = serializers.CharField()
        submittedAt = serializers.DateTimeField(source="submitted_at", allow_null=True)
        startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
        finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
        updatedAt = serializers.DateTimeField(source="updated_at")
        nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
        queuePosition = serializers.IntegerField(
            source="queue_position",
            allow_null=True,
            help_text="While Queued: 1 for the next job of its namespace; null otherwise.",
        )
        isFinal = serializers.BooleanField(
            source="is_final", help_text="True once nothing will change on its own."
        )
        waitingReason = serializers.SerializerMethodField(help_text="As on the job.")
        failureClass = serializers.SerializerMethodField(help_text="As on the job.")

        def get_waitingReason(self, job: TrainingJob) -> str | None:
            return job.waiting_line or None

        def get_failureClass(self, job: TrainingJob) -> str | None:
            if job.status != JobStatus.FAILED:
                return None
            return job.failure_class or FailureClass.UNKNOWN

        class Meta:
            ref_name = "JobStatusSummary"

    @extend_schema(
        operation_id="jobs_status",
        tags=["jobs"],
        summary="A job's current status",
        responses={200: OutputSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        return Response(self.OutputSerializer(_get_job(request, job_id)).data)


class JobResubmitApi(ApiView):
    """Sends a job Karmada refused (SubmitFailed) or one stuck in Pending again."""

    OutputSerializer = JobOutputSerializer

    @extend_schema(
        operation_id="jobs_resubmit",
        tags=["jobs"],
        summary="Submit a SubmitFailed (or stuck Pending) job again",
        request=None,
        responses={202: JobOutputSerializer, **_errors(401, 404, 409)},
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = services.job_resubmit(job=_get_job(request, job_id), user=request.user)
        return Response(self.OutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobCloneApi(ApiView):
    """Runs a job again: a new job from this one's request, with the body's fields laid
    over it (objects merge key by key, other values replace, null removes a key). The new
    job is validated exactly like a create; without `jobName` it is named after this one
    with a run number (`train` → `train-2`)."""

    OutputSerializer = JobOutputSerializer

    @extend_schema(
        operation_id="jobs_clone",
        tags=["jobs"],
        summary="Run a job again, optionally with changes",
        request={
            "application/json": {
                "type": "object",
                "description": "Any part of the create body (JobRequest); empty or absent: "
                "the same request.",
                "additionalProperties": True,
            }
        },
        responses={201: JobOutputSerializer, **_errors(400, 401, 403, 404, 415)},
        examples=[
            OpenApiExample(
                "More workers, another name",
                value={"jobName": "xgboost-training-big", "resources": {"instanceCount": 4}},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, job_id: str) -> Response:
        source = _get_job(request, job_id)
        changes = request.data if request.data not in (None, b"", "") else {}
        if not isinstance(changes, dict):
            raise ApiError("The request body must be a JSON object of the fields to change.")
        job = services.job_clone(job=source, user=request.user, changes=changes)
        location = reverse("api:job-detail", kwargs={"job_id": job.id})
        return Response(
            self.OutputSerializer(job).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class JobBulkApi(ApiView):
    """Deletes or resubmits many jobs at once. Every id gets its own result: `done`,
    `refused` (its status does not allow the action; `message` says why) or `notFound`
    (no such job, or one you cannot see)."""

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=list(services.BULK_ACTIONS))
        ids = serializers.ListField(
            child=serializers.CharField(max_length=64),
            allow_empty=False,
            max_length=services.BULK_MAX_IDS,
            help_text=f"Job ids, at most {services.BULK_MAX_IDS} per request.",
        )

        class Meta:
            ref_name = "JobBulkRequest"

    class ResultSerializer(serializers.Serializer):
        id = serializers.CharField()
        result = serializers.ChoiceField(choices=["done", "refused", "notFound"])
        message = serializers.CharField()
        status = serializers.CharField(
            required=False, help_text="The job's status after (absent for notFound)."
        )

        class Meta:
            ref_name = "JobBulkResult"

    class OutputSerializer(serializers.Serializer):
        action = serializers.CharField()
        results = serializers.ListField(child=serializers.DictField())

        class Meta:
            ref_name = "JobBulk"

    @extend_schema(
        operation_id="jobs_bulk",
        tags=["jobs"],
        summary="Delete or resubmit many jobs",
        request=InputSerializer,
        responses={200: OutputSerializer, **_errors(400, 401, 415)},
        examples=[
            OpenApiExample(
                "Delete two jobs",
                value={"action": "delete", "ids": ["<job-id>", "<job-id>"]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        if not isinstance(request.data, dict):
            raise ApiError("The request body must be a JSON object.")
        if not body.is_valid():
            raise ApiError("Invalid bulk request.", fields=_flat_errors(body.errors))
        results = services.job_bulk(
            user=request.user,
            action=body.validated_data["action"],
            ids=body.validated_data["ids"],
        )
        return Response({"action": body.validated_data["action"], "results": results})


# --- pods and logs ------------------------------------------------------------------------


class JobPodOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    replicaType = serializers.CharField(
        source="replica_type",
        help_text="master, worker, chief… (training-operator); launcher or worker (MPI).",
    )
    replicaIndex = serializers.IntegerField(source="replica_index", allow_null=True)
    phase = serializers.CharField(help_text="Pending, Running, Succeeded, Failed, Unknown.")
    ready = serializers.BooleanField()
    restarts = serializers.IntegerField()
    node = serializers.CharField()
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    container = serializers.CharField(help_text="The main container, whose log is served.")
    exitCode = serializers.IntegerField(
        source="exit_code",
        allow_null=True,
        help_text="Of the main container's termination (the last one if it restarted).",
    )
    exitReason = serializers.CharField(source="exit_reason")
    waitingReason = serializers.CharField(
        source="waiting_reason", help_text="Why it is not running: Unschedulable, …"
    )
    waitingMessage = serializers.CharField(source="waiting_message")

    class Meta:
        ref_name = "JobPod"


class JobPodsApi(ApiView):
    """The job's pods, read live from its member cluster through Karmada (not from the
    database): empty until Karmada placed the job."""

    class ArchivedLogSerializer(serializers.Serializer):
        pod = serializers.CharField()
        container = serializers.CharField()
        phase = serializers.CharField(help_text="The pod's phase when its log was kept.")
        archivedAt = serializers.DateTimeField(source="updated_at")
        truncated = serializers.BooleanField()

        class Meta:
            ref_name = "JobArchivedLog"

    class OutputSerializer(serializers.Serializer):
        cluster = serializers.CharField(help_text="Empty until Karmada placed the job.")
        pods = JobPodOutputSerializer(many=True)
        archivedLogs = serializers.ListField(
            child=serializers.DictField(),
            help_text="Pods no longer there whose main container's log was archived "
            "(pod, container, phase, archivedAt, truncated); read them at "
            "/pods/<pod>/log.",
        )

        class Meta:
            ref_name = "JobPods"

    @extend_schema(
        operation_id="jobs_pods",
        tags=["jobs"],
        summary="A job's pods on its member cluster",
        responses={200: OutputSerializer, **_errors(401, 404, 502, 503)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = _get_job(request, job_id)
        pods = selectors.job_pods(job=job)
        live = {pod.name for pod in pods}
        archived = [
            self.ArchivedLogSerializer(a).data
            for a in archive.job_archived_logs(job=job)
            if a.pod not in live
        ]
        return Response(
            self.OutputSerializer(
                {"cluster": job.cluster, "pods": pods, "archivedLogs": archived}
            ).data
        )


class JobPodLogApi(ApiView):
    """One pod's main-container log, as JSON (the API is JSON only, so errors and logs
    share one shape), or the whole log as text with ``download=1``. Only pods of this job:
    any other name answers 404. Once the pod is gone (or its job is final and its logs were
    archived) the archived copy answers, with ``archived: true``. While it runs, pass the
    answer's ``cursor`` back as ``sinceTime`` to get only the lines written since."""

    class QuerySerializer(serializers.Serializer):
        tailLines = serializers.IntegerField(
            required=False,
            default=500,
            min_value=1,
            max_value=selectors.MAX_TAIL_LINES,
            help_text="How many lines from the end.",
        )
        sinceTime = serializers.CharField(
            required=False,
            max_length=40,
            help_text="A `cursor` from an earlier answer: only the lines after it.",
        )
        download = serializers.BooleanField(
            required=False,
            default=False,
            help_text="1: the whole log as text/plain (an attachment) instead of JSON.",
        )

        def validate_sinceTime(self, value: str) -> str:
            if selectors._timestamp_key(value) is None:
                raise serializers.ValidationError(
                    "Must be a cursor from an earlier answer (an RFC 3339 time in UTC)."
                )
            return value

    class OutputSerializer(serializers.Serializer):
        pod = serializers.CharField()
        container = serializers.CharField()
        tailLines = serializers.IntegerField()
        log = serializers.CharField(help_text="The log text, lines separated by \\n.")
        archived = serializers.BooleanField(
            help_text="True: read from the archive kept after the pod (or its job) ended."
        )
        archivedAt = serializers.DateTimeField(allow_null=True)
        truncated = serializers.BooleanField(
            help_text="The archive kept only the last LOG_ARCHIVE_MAX_MIB of the log."
        )
        cursor = serializers.CharField(
            allow_null=True,
            help_text="Time stamp of the last line read live; null for an archive.",
        )
        podPhase = serializers.CharField(help_text="The pod's phase when read.")

        class Meta:
            ref_name = "JobPodLog"

    @extend_schema(
        operation_id="jobs_pod_log",
        tags=["jobs"],
        summary="A job pod's log: live, or archived once the pod is gone",
        parameters=[QuerySerializer],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/plain"): OpenApiTypes.STR,
            **_errors(400, 401, 404, 502, 503),
        },
    )
    def get(self, request: Request, job_id: str, pod: str) -> Any:
        job = _get_job(request, job_id)
        query = self.QuerySerializer(data=_query_dict(request, self.QuerySerializer))
        if not query.is_valid():
            raise ApiError("Invalid query parameters.", fields=_flat_errors(query.errors))
        tail_lines = query.validated_data["tailLines"]
        since = query.validated_data.get("sinceTime")
        download = query.validated_data["download"]
        saved = archive.job_log_archive_for(job=job, pod=pod)
        if saved is not None and job.is_final:
            # Nothing changes any more: no need to ask the member.
            return self._archived(saved, tail_lines, download)
        try:
            if download:
                return log_download_response(job=job, pod=pod)
            chunk = selectors.job_pod_log_follow(
                job=job, pod=pod, tail_lines=tail_lines, since=since
            )
        except PodNotFound:
            if saved is not None:
                return self._archived(saved, tail_lines, download)
            raise ApiError("Pod not found for this job.", status_code=404) from None
        except ClusterError as exc:
            if saved is not None:
                return self._archived(saved, tail_lines, download)
            if exc.status == 404:  # gone between the listing and the log request
                raise ApiError("Pod not found for this job.", status_code=404) from None
            raise
        return Response(
            self.OutputSerializer(
                {
                    "pod": pod,
                    "container": chunk.pod.container,
                    "tailLines": tail_lines,
                    "log": chunk.text,
                    "archived": False,
                    "archivedAt": None,
                    "truncated": False,
                    "cursor": chunk.cursor,
                    "podPhase": chunk.pod.phase,
                }
            ).data
        )

    def _archived(self, saved: PodLogArchive, tail_lines: int, download: bool) -> Any:
        if download:
            return archive_download_response(saved)
        return Response(
            self.OutputSerializer(
                {
                    "pod": saved.pod,
                    "container": saved.container,
                    "tailLines": tail_lines,
                    "log": archive.archive_text(saved, tail_lines=tail_lines),
                    "archived": True,
                    "archivedAt": saved.updated_at,
                    "truncated": saved.truncated,
                    "cursor": None,
                    "podPhase": saved.phase,
                }
            ).data
        )


def _attachment(response: HttpResponseBase, pod: str) -> HttpResponseBase:
    response["Content-Disposition"] = f'attachment; filename="{pod}.log"'
    return response


def archive_download_response(saved: PodLogArchive) -> HttpResponseBase:
    """The whole archived log as a text/plain attachment (shared with the log page)."""
    response = FileResponse(saved.file.open("rb"), content_type="text/plain; charset=utf-8")
    return _attachment(response, saved.pod)


def log_download_response(*, job: TrainingJob, pod: str) -> HttpResponseBase:
    """The whole live log, streamed from the member as it arrives (shared with the page).
    The first chunk is read before answering, so an unreachable member is still an error
    answer, not a cut-off download."""
    match = next((p for p in selectors.job_pods(job=job) if p.name == pod), None)
    if match is None:
        raise PodNotFound(pod)
    chunks = get_client().member_pod_log_chunks(
        job.cluster, job.namespace, match.name, container=match.container
    )
    first = next(chunks, b"")
    response = StreamingHttpResponse(
        itertools.chain([first], chunks), content_type="text/plain; charset=utf-8"
    )
    return _attachment(response, pod)


class JobClusterEventOutputSerializer(serializers.Serializer):
    time = serializers.DateTimeField(allow_null=True, help_text="Its last occurrence.")
    # A wire name that Field also uses as an attribute; the metaclass keeps them apart.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="`karmada`, or the member cluster's name."
    )
    objectKind = serializers.CharField(source="object_kind")
    objectName = serializers.CharField(source="object_name")
    type = serializers.CharField(help_text="Normal or Warning.")
    reason = serializers.CharField()
    message = serializers.CharField()
    count = serializers.IntegerField()

    class Meta:
        ref_name = "JobClusterEvent"


class JobClusterEventsApi(ApiView):
    """The Kubernetes events about the job, merged oldest first: Karmada's for its template,
    PropagationPolicy and ResourceBinding, and its member cluster's for the workload and its
    pods. Read live, cached for a few seconds per job. (The platform's own status history is
    the job detail's ``events``.)"""

    class OutputSerializer(serializers.Serializer):
        cluster = serializers.CharField(help_text="Empty until Karmada placed the job.")
        events = JobClusterEventOutputSerializer(many=True)
        unavailable = serializers.DictField(
            child=serializers.CharField(),
            help_text="Member cluster → why its events could not be read (then only "
            "Karmada's are listed).",
        )

        class Meta:
            ref_name = "JobClusterEvents"

    @extend_schema(
        operation_id="jobs_events",
        tags=["jobs"],
        summary="The Kubernetes events of a job (Karmada and its member), oldest first",
        responses={200: OutputSerializer, **_errors(401, 404, 502, 503)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = _get_job(request, job_id)
        found = selectors.job_cluster_events(job)
        return Response(
            self.OutputSerializer(
                {"cluster": job.cluster, "events": found["events"], "unavailable": found["errors"]}
            ).data
        )


# --- frameworks -------------------------------------------------------------


class HyperparameterOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Hyperparameter"

    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "str", "bool", "choice"])
    default = serializers.JSONField(allow_null=True, help_text="null: no default.")
    # Wire names that a serializer Field also uses as attributes; DRF keeps them apart.
    required = serializers.BooleanField()  # type: ignore[assignment]
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    minExclusive = serializers.BooleanField(source="min_exclusive")
    maxExclusive = serializers.BooleanField(source="max_exclusive")
    choices = serializers.ListField(child=serializers.CharField())
    help = serializers.CharField()
    description = serializers.CharField(
        source="describe", help_text="Type, range and default in words."
    )


class FrameworkListApi(ApiView):
    """Every framework with its hyperparameter schema: type, default, range, choices, help."""

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        label = serializers.CharField()  # type: ignore[assignment]  # a wire name, as above
        kind = serializers.CharField(help_text="The Kubeflow workload kind it runs as.")
        apiVersion = serializers.CharField(source="api_version")
        hyperparameters = HyperparameterOutputSerializer(source="params", many=True)

        class Meta:
            ref_name = "Framework"

    @extend_schema(
        operation_id="frameworks_list",
        tags=["frameworks"],
        summary="Frameworks and their hyperparameters (types, defaults, ranges, choices)",
        responses={200: OutputSerializer(many=True), **_errors(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(list(FRAMEWORKS.values()), many=True).data)
