from django.db.models import QuerySet

from clusters.models import ControlPlaneHealth, MemberCluster


def cluster_list() -> QuerySet[MemberCluster]:
    """Clusters Karmada currently knows, ready ones first."""
    return MemberCluster.objects.filter(present=True).order_by("-ready", "name")


def control_plane_health() -> ControlPlaneHealth | None:
    """What the last status sync found of Karmada itself; None before the first sync."""
    return ControlPlaneHealth.objects.filter(pk=1).first()


def unready_clusters() -> dict[str, str]:
    """Name -> why, for every member Karmada reports not ready."""
    return dict(MemberCluster.objects.filter(ready=False).values_list("name", "ready_message"))
