from celery import shared_task

from clusters import services
from clusters.client import ClusterError


@shared_task(ignore_result=True)
def cluster_inventory_sync_task() -> int:
    try:
        return services.cluster_inventory_sync()
    except ClusterError:
        # The next beat tick retries; an unreachable Karmada must not pile up retries.
        return -1
