import logging

from celery import shared_task
from django.conf import settings

from clusters import services
from clusters.client import ClusterError
from mlplatform.locks import try_lock

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def cluster_inventory_sync_task() -> int:
    one_request = settings.KARMADA_CONNECT_TIMEOUT + settings.KARMADA_READ_TIMEOUT
    budget = settings.CLUSTER_INVENTORY_BUDGET
    # The cluster LIST, the member asks the budget allows, and one ask that started just
    # before it ran out: the lock outlives all of them, so two passes never overlap.
    with try_lock("cluster-inventory-sync", ttl=budget + 2 * one_request + 5) as got:
        if not got:
            return -1
        try:
            return services.cluster_inventory_sync(budget=budget)
        except ClusterError as exc:
            # The next beat tick retries; an unreachable Karmada must not pile up retries.
            log.warning("inventory sync: %s", exc)
            return -1
