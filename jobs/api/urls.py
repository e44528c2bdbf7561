"""/api/…: the REST contract of the original service (no trailing slashes), plus the
OpenAPI schema and docs."""

from django.urls import path

from clusters.api import ClusterListApi
from jobs.api import queue, views
from jobs.api.docs import SchemaApi, docs_view
from jobs.api.routing import by_method, route
from webhooks.api import WebhookCreateApi, WebhookDeleteApi, WebhookListApi

app_name = "api"

urlpatterns = [
    *route(
        "v1/jobs",
        by_method(get=views.JobListApi, post=views.JobCreateApi),
        name="jobs",
    ),
    # Before v1/jobs/<job_id>, which would take "bulk" for an id.
    *route("v1/jobs/bulk", views.JobBulkApi.as_view(), name="jobs-bulk"),
    *route(
        "v1/jobs/<str:job_id>",
        by_method(get=views.JobDetailApi, delete=views.JobDeleteApi),
        name="job-detail",
    ),
    *route("v1/jobs/<str:job_id>/status", views.JobStatusApi.as_view(), name="job-status"),
    *route("v1/jobs/<str:job_id>/resubmit", views.JobResubmitApi.as_view(), name="job-resubmit"),
    *route("v1/jobs/<str:job_id>/clone", views.JobCloneApi.as_view(), name="job-clone"),
    *route("v1/jobs/<str:job_id>/pods", views.JobPodsApi.as_view(), name="job-pods"),
    *route("v1/jobs/<str:job_id>/events", views.JobClusterEventsApi.as_view(), name="job-events"),
    *route(
        "v1/jobs/<str:job_id>/pods/<str:pod>/log", views.JobPodLogApi.as_view(), name="job-pod-log"
    ),
    *route("v1/clusters", ClusterListApi.as_view(), name="clusters"),
    *route("v1/quotas", queue.QuotaListApi.as_view(), name="quotas"),
    *route("v1/quotas/<str:namespace>", queue.QuotaDetailApi.as_view(), name="quota-detail"),
    *route("v1/queue", queue.QueueApi.as_view(), name="queue"),
    *route(
        "v1/webhooks",
        by_method(get=WebhookListApi, post=WebhookCreateApi),
        name="webhooks",
    ),
    *route("v1/webhooks/<str:webhook_id>", WebhookDeleteApi.as_view(), name="webhook-detail"),
    *route("v1/frameworks", views.FrameworkListApi.as_view(), name="frameworks"),
    path("schema", SchemaApi.as_view(), name="schema"),
    path("docs", docs_view(), name="docs"),
]
