"""/api/v1/webhooks: register, list and delete the endpoints that hear about job status
changes. A webhook belongs to the user who registered it; anyone else's answers 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.api.base import ApiView
from jobs.api.errors import ApiError
from jobs.api.views import _errors
from jobs.models import JobStatus
from webhooks import services
from webhooks.models import DeliveryState, Webhook


class DeliveryOutputSerializer(serializers.Serializer):
    jobId = serializers.UUIDField(source="job_id")
    status = serializers.CharField(help_text="The job status notified.")
    channel = serializers.ChoiceField(choices=["webhook", "email"])
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    attempts = serializers.IntegerField()
    responseCode = serializers.IntegerField(source="response_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)

    class Meta:
        ref_name = "WebhookDelivery"


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Empty for an e-mail-only webhook.")
    email = serializers.CharField()
    namespace = serializers.CharField()
    # Plain strings: the job statuses' enum is documented once, on the job.
    statuses = serializers.ListField(
        child=serializers.CharField(), help_text="Job statuses (see Job.status)."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    lastDelivery = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Webhook"

    @extend_schema_field(DeliveryOutputSerializer(allow_null=True))
    def get_lastDelivery(self, hook: Webhook) -> dict[str, Any] | None:
        latest = (self.context.get("latest") or {}).get(hook.pk)
        return DeliveryOutputSerializer(latest).data if latest else None


class WebhookRequestSerializer(serializers.Serializer):
    """Documentation of the body; ``webhooks.services.webhook_create`` validates it."""

    url = serializers.URLField(
        required=False,
        help_text="http(s) endpoint that receives a signed JSON POST per status change. "
        "Public addresses only unless the operators allow others.",
    )
    secret = serializers.CharField(
        required=False,
        min_length=services.SECRET_MIN,
        max_length=services.SECRET_MAX,
        help_text="Required with a URL. Each delivery carries "
        "`X-Mlplatform-Signature: sha256=<hex HMAC-SHA256 of the raw body with it>`.",
    )
    email = serializers.EmailField(required=False, help_text="Also (or only) e-mail here.")
    namespace = serializers.CharField(help_text="Whose jobs to hear about; you need access.")
    statuses = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"Any of {', '.join(JobStatus.values)}. "
        "Default: the final ones (Succeeded, Failed, Deleted, SubmitFailed).",
    )

    class Meta:
        ref_name = "WebhookRequest"


class WebhookListApi(ApiView):
    """Your webhooks, newest first, each with its latest delivery."""

    @extend_schema(
        operation_id="webhooks_list",
        tags=["webhooks"],
        summary="List your webhooks",
        responses={200: WebhookOutputSerializer(many=True), **_errors(401)},
    )
    def get(self, request: Request) -> Response:
        hooks = list(services.webhook_list(user=request.user)[:200])
        context = {"latest": services.last_deliveries(hooks)}
        return Response(WebhookOutputSerializer(hooks, many=True, context=context).data)


class WebhookCreateApi(ApiView):
    """Registers an endpoint (or e-mail address) for status changes of the jobs in one
    namespace. Deliveries are JSON: the job's `id`, `name`, `namespace`, `status`,
    `reason`, `message`, `failureSummary`, `cluster`, `url` (its page) and `time`; retried
    with backoff until the endpoint answers 2xx."""

    @extend_schema(
        operation_id="webhooks_create",
        tags=["webhooks"],
        summary="Register a webhook",
        request=WebhookRequestSerializer,
        responses={201: WebhookOutputSerializer, **_errors(400, 401, 403, 415)},
        examples=[
            OpenApiExample(
                "Final statuses of team-a",
                value={
                    "url": "https://hooks.example.com/mlplatform",
                    "secret": "a-long-random-shared-secret",
                    "namespace": "team-a",
                    "statuses": ["Succeeded", "Failed"],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApiError("The request body must be a JSON object.")
        hook = services.webhook_create(user=request.user, data=request.data)
        return Response(WebhookOutputSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDeleteApi(ApiView):
    """Removes one of your webhooks and its delivery log."""

    @extend_schema(
        operation_id="webhooks_destroy",
        tags=["webhooks"],
        summary="Delete a webhook",
        request=None,
        responses={204: None, **_errors(401, 404)},
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        try:
            hook = services.webhook_get(user=request.user, webhook_id=webhook_id)
        except Webhook.DoesNotExist:
            raise ApiError("Webhook not found.", status_code=404) from None
        services.webhook_delete(webhook=hook)
        return Response(status=status.HTTP_204_NO_CONTENT)
