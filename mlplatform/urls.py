from django.contrib import admin
from django.urls import include, path

from jobs.api.routing import route
from jobs.api.views import HealthApi
from mlplatform.metrics import metrics_view

urlpatterns = [
    *route("health", HealthApi.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("jobs.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("clusters/", include("clusters.urls")),
    path("", include("jobs.urls")),
]

# Unknown /api/ URLs and crashes answer API clients in the API's error shape; pages keep
# Django's HTML pages.
handler404 = "jobs.api.errors.page_not_found"
handler500 = "jobs.api.errors.server_error"
