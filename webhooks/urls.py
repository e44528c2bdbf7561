from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.webhook_list_view, name="list"),
    path("<int:pk>/delete", views.webhook_delete_view, name="delete"),
]
