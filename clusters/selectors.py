from django.db.models import QuerySet

from clusters.models import MemberCluster


def cluster_list() -> QuerySet[MemberCluster]:
    """Clusters Karmada currently knows, ready ones first."""
    return MemberCluster.objects.filter(present=True).order_by("-ready", "name")
