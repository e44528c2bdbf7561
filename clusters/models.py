from django.db import models


class MemberCluster(models.Model):
    """A Karmada member cluster, mirrored from its `Cluster` object by the inventory sync."""

    name = models.CharField(max_length=253, unique=True)
    ready = models.BooleanField(default=False)
    ready_message = models.TextField(blank=True)
    kubernetes_version = models.CharField(max_length=50, blank=True)
    sync_mode = models.CharField(max_length=10, blank=True)
    api_endpoint = models.CharField(max_length=500, blank=True)
    region = models.CharField(max_length=100, blank=True)
    zone = models.CharField(max_length=100, blank=True)

    cpu_allocatable = models.FloatField(default=0, help_text="cores")
    cpu_allocated = models.FloatField(default=0, help_text="cores")
    memory_allocatable_gib = models.FloatField(default=0)
    memory_allocated_gib = models.FloatField(default=0)
    gpu_allocatable = models.FloatField(default=0)
    gpu_allocated = models.FloatField(default=0)
    node_count = models.PositiveIntegerField(default=0)
    # Allocatable of the Ready, schedulable nodes, grouped by shape:
    # [{"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 4}, ...]. Each instance of a
    # job is one pod and must fit on one node, which the cluster-wide totals cannot tell.
    # None until the nodes could be listed (then placement only checks the totals).
    node_shapes = models.JSONField(null=True, blank=True)

    # False once Karmada no longer lists it; kept so old jobs still name a known cluster.
    present = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def cpu_free(self) -> float:
        return max(self.cpu_allocatable - self.cpu_allocated, 0.0)

    @property
    def memory_free_gib(self) -> float:
        return max(self.memory_allocatable_gib - self.memory_allocated_gib, 0.0)

    @property
    def gpu_free(self) -> float:
        return max(self.gpu_allocatable - self.gpu_allocated, 0.0)

    @property
    def has_gpu(self) -> bool:
        return self.gpu_allocatable > 0

    @property
    def node_summary(self) -> str:
        """The node shapes in words, e.g. "4 nodes of 16 CPU, 64 GiB, 4 GPU"; empty when
        unknown."""
        parts = []
        for shape in self.node_shapes or []:
            count = shape.get("count", 0)
            text = f"{count} node{'' if count == 1 else 's'} of {shape.get('cpu', 0):g} CPU, "
            text += f"{shape.get('memoryGiB', 0):g} GiB"
            if shape.get("gpu"):
                text += f", {shape['gpu']:g} GPU"
            parts.append(text)
        return "; ".join(parts)


class ControlPlaneHealth(models.Model):
    """Whether the platform can talk to Karmada, as the last sync found it (one row).

    Shown on the clusters page and on jobs whose status cannot be read, so an outage reads
    as what it is instead of as job failures.
    """

    reachable = models.BooleanField(default=True)
    message = models.TextField(blank=True)
    since = models.DateTimeField(null=True, blank=True, help_text="when it last changed")
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "reachable" if self.reachable else f"unreachable: {self.message}"
