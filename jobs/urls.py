from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list_view, name="list"),
    path("jobs/new", views.job_create_view, name="create"),
    path("jobs/bulk", views.job_bulk_view, name="bulk"),
    path("jobs/new/hyperparameters", views.job_hyperparameters_view, name="hyperparameters"),
    path("jobs/<uuid:pk>", views.job_detail_view, name="detail"),
    path("jobs/<uuid:pk>/status", views.job_status_view, name="status"),
    path("jobs/<uuid:pk>/pods", views.job_pods_view, name="pods"),
    path("jobs/<uuid:pk>/events", views.job_events_view, name="events"),
    path("jobs/<uuid:pk>/pods/<str:pod>/log", views.job_pod_log_view, name="pod-log"),
    path("jobs/<uuid:pk>/delete", views.job_delete_view, name="delete"),
    path("jobs/<uuid:pk>/resubmit", views.job_resubmit_view, name="resubmit"),
    path("queue", views.queue_view, name="queue"),
]
