#!/usr/bin/env python
"""`make bench-e2e` (also run by `make bench`): the platform end to end, in its production
shape, on a testbed of its own.

PostgreSQL and Redis (private, throw-away), gunicorn (2 workers x 4 threads), one Celery
worker (concurrency 2) and a separate beat, against the bench's testbed (TESTBED_HOME
.testbed-bench, ports from 23000). The load is docs/MEASURING's: one-instance XGBoost jobs,
0.1 CPU and 0.25 GiB, no target clusters.

  BENCH_E2E_JOBS=1000,100   job counts, one run each, in order (default: 1000 then 100)
  BENCH_E2E_CLIENTS=16      concurrent HTTP clients for the burst
  BENCH_E2E_SEED=10000      finished jobs written into the table first (the API figures
                            are taken with this many rows)

Each run prints: time from the first POST to all Succeeded, jobs per cluster, create
rate and p50/p99 at 16 clients, then create and list p50/p99 at 4 clients, status freshness
p50/p95 (member -> Karmada template -> platform, and member -> platform), Karmada requests
per tick issued by the platform, sync pass p50/p95 and queries per pass, and the CPU
seconds the worker and beat used, the whole machine's and each process's. Then docs/
MEASURING's baseline: the same N workloads straight on Karmada under one PropagationPolicy
(BENCH_E2E_BASELINE=0 skips it), and the platform's time over it. Before the runs, the
API alone: the worker and beat paused, 1,000 creates at 16 clients, then create and list at
4 (those jobs are removed again before the worker resumes).
Targets print beside each figure. It asserts nothing: benchmarks print, tests assert.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Before testbed.runtime is imported: it reads its home and ports once, at import.
os.environ.setdefault("TESTBED_HOME", str(ROOT / ".testbed-bench"))
os.environ.setdefault("TESTBED_PORT_BASE", "23000")

from faults.harness import (  # noqa: E402
    Api,
    Platform,
    Postgres,
    Redis,
    clusters_ready,
    job_body,
    platform_env,
    wait_until,
)

NAMESPACE = "bench-jobs"
PORT_BASE = int(os.environ["TESTBED_PORT_BASE"])
LOG_DIR = ROOT / "test-artifacts" / "bench-e2e"
WORKLOADS = "/apis/kubeflow.org/v1/xgboostjobs"
JOB_ID_LABEL = "mlplatform.io/job-id"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def line(name: str, value: str, target: str = "") -> None:
    print(f"  {name:<46} {value:<34} {('target ' + target) if target else ''}".rstrip())


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- process CPU ---------------------------------------------------------------------


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields of /proc/<pid>/stat after the name) of every live
    process; field 5 of stat, the process group, is ``fields[2]``."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        yield (
            int(entry),
            raw[raw.index("(") + 1 : raw.rindex(")")],
            raw[raw.rindex(")") + 2 :].split(),
        )


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in process group ``pgid`` (and of the
    children they have reaped)."""
    total = sum(
        sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        for _, _, fields in _processes()
        if int(fields[2]) == pgid
    )
    return total / os.sysconf("SC_CLK_TCK")


def component_cpu_seconds(testbed_home: Path, platform) -> dict[str, float]:
    """CPU seconds so far of each testbed process (by its pidfile name) and of the
    platform's process groups: where a run's time goes on a machine it saturates."""
    tick = os.sysconf("SC_CLK_TCK")
    names: dict[int, str] = {}
    for pidfile in (testbed_home / "run").glob("*.pid"):
        try:
            names[int(json.loads(pidfile.read_text())["pid"])] = pidfile.stem
        except (OSError, ValueError, KeyError):
            continue
    groups = {
        platform.web.pid: "gunicorn",
        platform.worker.pid: "worker",
        platform.beat.pid: "beat",
    }
    out: dict[str, float] = {}
    for pid, comm, fields in _processes():
        name = names.get(pid) or groups.get(int(fields[2]))
        if name is None and comm in ("postgres", "redis-server"):
            name = comm
        if name is None:
            continue
        out[name] = out.get(name, 0.0) + sum(int(v) for v in fields[11:13]) / tick  # utime stime
    return out


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / tick, sum(values) / tick


# --- Karmada's own request counters --------------------------------------------------


def apiserver_requests(kube) -> dict[tuple[str, str], float]:
    """apiserver_request_total summed by (verb, resource), from Karmada's /metrics."""
    text = kube.request("GET", "/metrics", timeout=30)
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[tuple[str, str], float] = {}
    for row in text.splitlines():
        if not row.startswith("apiserver_request_total{"):
            continue
        labels_text, value = row[len("apiserver_request_total{") :].rsplit("} ", 1)
        labels = dict(part.split("=", 1) for part in labels_text.split('",') if "=" in part)
        verb = labels.get("verb", "").strip('"')
        resource = labels.get("resource", "").strip('"')
        key = (verb, resource)
        out[key] = out.get(key, 0.0) + float(value)
    return out


# --- the platform's own counters (Redis, as /metrics serves them) ----------------------


class PlatformCounters:
    def __init__(self, redis_url: str):
        import redis

        self.conn = redis.Redis.from_url(redis_url)

    def counter(self, name: str) -> dict[str, int]:
        raw = self.conn.hgetall(f"mlplatform:metrics:c:{name}")
        return {k.decode(): int(v) for k, v in raw.items()}

    def histogram(self, name: str) -> dict[str, float]:
        raw = self.conn.hgetall(f"mlplatform:metrics:h:{name}")
        return {k.decode(): float(v) for k, v in raw.items()}

    def snapshot(self) -> dict:
        return {
            "requests": self.counter("karmada_requests"),
            "passes": sum(self.counter("status_sync_passes").values()),
            "queries": sum(self.counter("status_sync_queries").values()),
            "overlaps": sum(self.counter("status_sync_overlaps").values()),
            "sync": self.histogram("status_sync_seconds"),
            "watch": self.histogram("status_sync_watch_seconds"),
        }


def histogram_quantile(before: dict[str, float], after: dict[str, float], q: float) -> float:
    """Prometheus' histogram_quantile over the observations between two snapshots."""
    bounds = sorted(
        (float(k), after.get(k, 0) - before.get(k, 0)) for k in after if k not in ("sum", "+Inf")
    )
    total = sum(n for _, n in bounds) + after.get("+Inf", 0) - before.get("+Inf", 0)
    if total <= 0:
        return float("nan")
    rank, seen, lower = q * total, 0.0, 0.0
    for bound, n in bounds:
        if seen + n >= rank and n > 0:
            return lower + (bound - lower) * (rank - seen) / n
        seen += n
        lower = bound
    return float("inf")


# --- one run ---------------------------------------------------------------------------


class Stack:
    def __init__(self, testbed, root: Path):
        self.testbed = testbed
        var_dir = root / "var"
        var_dir.mkdir()
        self.postgres = Postgres(root / "postgres", PORT_BASE + 90, LOG_DIR)
        self.redis = Redis(root / "redis", PORT_BASE + 91, LOG_DIR)
        self.postgres.init()
        self.redis.start()
        env = platform_env(
            database_url=self.postgres.url,
            redis_url=self.redis.url,
            kubeconfig=testbed.karmada_kubeconfig,
            var_dir=var_dir,
        )
        # The figures are the platform's, not its per-user rate limit's.
        env["API_THROTTLE_USER"] = "off"
        self.platform = Platform(env=env, port=PORT_BASE + 92, log_dir=LOG_DIR, var_dir=var_dir)
        self.platform.manage("migrate", "--noinput")
        self.token = self.platform.create_api_user("bench", NAMESPACE)
        self.platform.start_web()
        self.platform.start_worker()
        self.platform.start_beat()
        self.api = Api(self.platform.url, self.token)
        self.counters = PlatformCounters(self.redis.url)
        import psycopg

        self.db = psycopg.connect(self.postgres.url, autocommit=True)
        wait_until(
            lambda: clusters_ready(self.api, testbed.members),
            timeout=120,
            message="both member clusters Ready in GET /api/v1/clusters",
        )

    def seed(self, n: int) -> str:
        """``n`` finished jobs in the table, written in bulk (what months of use leave);
        returns what the seed says of the table."""
        if n <= 0:
            return "no jobs seeded"
        code = f"""
from django.utils import timezone
from jobs.models import TrainingJob, JobStatus
from jobs.tests.factories import TrainingJobFactory
proto = TrainingJobFactory.build(namespace={NAMESPACE!r}, status=JobStatus.SUCCEEDED)
now = timezone.now()
rows = []
for i in range({n}):
    job = TrainingJobFactory.build(
        namespace={NAMESPACE!r}, status=JobStatus.SUCCEEDED, name=f"seed-{{i}}",
        k8s_name=f"seed-{{i}}", finished_at=now, started_at=now, submitted_at=now,
    )
    rows.append(job)
TrainingJob.objects.bulk_create(rows, batch_size=1000)
# Months of use leave a table that autovacuum has long vacuumed and analysed; a bulk load
# just now has no statistics (the planner would sort every row of a namespace for one
# page) and no visibility map (a page's COUNT would read every row instead of the index).
# The suite's PostgreSQL commits asynchronously, so a VACUUM right after the load finds
# commits not yet flushed and cannot mark their pages all-visible: vacuum until it has.
from django.db import connection
from testbed.polling import wait_for

def vacuumed():
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) jobs_trainingjob")
        cursor.execute(
            "SELECT relallvisible, relpages FROM pg_class WHERE relname = 'jobs_trainingjob'"
        )
        visible, pages = cursor.fetchone()
    return (visible, pages) if visible >= 0.95 * pages else None

visible, pages = wait_for(
    vacuumed, timeout=60, interval=0.5, message="the seeded jobs' pages all-visible"
)
print(TrainingJob.objects.count(), "jobs seeded,", visible, "of", pages, "pages all-visible")
"""
        return self.platform.manage("shell", "-c", code, timeout=600).strip().splitlines()[-1]

    def stop(self) -> None:
        self.db.close()
        self.platform.stop()
        self.redis.stop()
        self.postgres.destroy()


def create_burst(
    api: Api, n: int, clients: int, prefix: str
) -> tuple[list[dict], list[float], float]:
    latencies: list[float] = []
    created: list[dict] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        session = api.http
        started = time.monotonic()
        resp = session.post(
            f"{api.base}/api/v1/jobs",
            json=job_body(f"{prefix}-{i}", namespace=NAMESPACE),
            timeout=60,
        )
        elapsed = time.monotonic() - started
        if resp.status_code != 201:
            raise RuntimeError(f"create {i}: HTTP {resp.status_code} {resp.text[:300]}")
        with lock:
            latencies.append(elapsed * 1000)
            created.append(resp.json())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(n)))
    return created, latencies, time.monotonic() - started


def list_pages(api: Api, n: int, clients: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    count = api.http.get(f"{api.base}/api/v1/jobs", timeout=60).json()["count"]
    pages = max(1, min(20, -(-count // 50)))

    def one(i: int) -> None:
        started = time.monotonic()
        resp = api.http.get(f"{api.base}/api/v1/jobs", params={"page": i % pages + 1}, timeout=60)
        elapsed = time.monotonic() - started
        if resp.status_code != 200:
            raise RuntimeError(f"list: HTTP {resp.status_code} {resp.text[:300]}")
        with lock:
            latencies.append(elapsed * 1000)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(n)))
    return latencies


def statuses(stack: Stack, ids: set[str]) -> dict[str, str]:
    """Status of every job in ``ids``, read straight from the bench's database (polling
    1,000 jobs through the API each second would load the web tier being measured)."""
    with stack.db.cursor() as cur:
        cur.execute(
            "SELECT id::text, status FROM jobs_trainingjob WHERE id = ANY(%s::uuid[])", [list(ids)]
        )
        return dict(cur.fetchall())


def history_times(stack: Stack, ids: list[str], status: str) -> dict[str, float]:
    with stack.db.cursor() as cur:
        cur.execute(
            "SELECT job_id::text, extract(epoch from min(created_at)) FROM jobs_jobevent"
            " WHERE job_id = ANY(%s::uuid[]) AND to_status = %s GROUP BY job_id",
            [ids, status],
        )
        return {job_id: float(t) for job_id, t in cur.fetchall()}


def freshness(stack: Stack, jobs: list[dict]) -> dict[str, list[float]]:
    """Per sampled job: member condition time -> template status write -> platform history."""
    sample = jobs[:: max(1, len(jobs) // 100)]
    by_k8s = {job["kubernetesName"]: job["id"] for job in sample}
    member_time: dict[str, float] = {}
    for member in stack.testbed.members:
        kube = stack.testbed.kube(member)
        try:
            items = kube.request("GET", WORKLOADS, query={"labelSelector": JOB_ID_LABEL})["items"]
        finally:
            kube.close()
        for item in items:
            job_id = item["metadata"]["labels"].get(JOB_ID_LABEL)
            for cond in (item.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Succeeded" and cond.get("status") == "True":
                    member_time[job_id] = parse_time(cond.get("lastTransitionTime")) or 0
    template_time: dict[str, float] = {}
    kube = stack.testbed.kube("karmada")
    try:
        items = kube.request(
            "GET", WORKLOADS, query={"labelSelector": JOB_ID_LABEL, "showManagedFields": "true"}
        )["items"]
    finally:
        kube.close()
    for item in items:
        if item["metadata"]["name"] not in by_k8s:
            continue
        job_id = item["metadata"]["labels"].get(JOB_ID_LABEL)
        times = [
            parse_time(mf.get("time"))
            for mf in item["metadata"].get("managedFields") or []
            if mf.get("subresource") == "status"
        ]
        times = [t for t in times if t]
        if times:
            template_time[job_id] = max(times)
    platform_time = history_times(stack, list(by_k8s.values()), "Succeeded")
    out: dict[str, list[float]] = {"member_template": [], "template_platform": [], "total": []}
    for job_id in by_k8s.values():
        m, t, p = member_time.get(job_id), template_time.get(job_id), platform_time.get(job_id)
        if m is None or p is None:
            continue
        out["total"].append(p - m)
        if t is not None:
            out["member_template"].append(t - m)
            out["template_platform"].append(p - t)
    return out


def run(stack: Stack, n: int, clients: int) -> None:
    print(f"\n== {n} jobs, {clients} concurrent clients ==")
    karmada = stack.testbed.kube("karmada")
    req_before = apiserver_requests(karmada)
    counters_before = stack.counters.snapshot()
    cpu_before = {
        "worker": group_cpu_seconds(stack.platform.worker.pid),
        "beat": group_cpu_seconds(stack.platform.beat.pid),
    }
    components_before = component_cpu_seconds(stack.testbed.home, stack.platform)
    machine_before = machine_busy_seconds()
    prefix = f"run-{uuid.uuid4().hex[:5]}"
    started = time.monotonic()
    created, latencies, burst_seconds = create_burst(stack.api, n, clients, prefix)
    ids = {job["id"] for job in created}
    last_seen: dict[str, str] = {}

    def all_done() -> bool:
        last_seen.clear()
        last_seen.update(statuses(stack, ids))
        return sum(1 for s in last_seen.values() if s == "Succeeded") == n or any(
            s in ("Failed", "SubmitFailed") for s in last_seen.values()
        )

    wait_until(
        all_done,
        timeout=max(900, n * 2),
        interval=1,
        message=f"all {n} jobs Succeeded",
        detail=lambda: str(statistics.multimode(last_seen.values())),
    )
    total = time.monotonic() - started
    counters_after = stack.counters.snapshot()
    req_after = apiserver_requests(karmada)
    karmada.close()
    cpu = {
        "worker": group_cpu_seconds(stack.platform.worker.pid) - cpu_before["worker"],
        "beat": group_cpu_seconds(stack.platform.beat.pid) - cpu_before["beat"],
    }
    components_after = component_cpu_seconds(stack.testbed.home, stack.platform)
    machine_after = machine_busy_seconds()
    failed = [i for i, s in last_seen.items() if s != "Succeeded"]
    line(
        "time to all Succeeded",
        f"{total:.1f} s" + (f" ({len(failed)} not)" if failed else ""),
        "<= 120 s at 1,000" if n >= 1000 else "",
    )

    per_cluster: dict[str, int] = {}
    for job_id in ids:
        job = stack.api.job(job_id) or {}
        per_cluster[job.get("cluster") or "?"] = per_cluster.get(job.get("cluster") or "?", 0) + 1
    line(
        "jobs per cluster",
        ", ".join(f"{k}: {v}" for k, v in sorted(per_cluster.items())),
        "in proportion to free CPU",
    )
    line(
        f"creates at {clients} clients",
        f"{n / burst_seconds:.0f}/s, p50 {pct(latencies, 50):.0f} ms, "
        f"p99 {pct(latencies, 99):.0f} ms",
        ">= 150/s",
    )

    fresh = freshness(stack, created)
    for key, label in (
        ("total", "freshness member -> platform"),
        ("member_template", "  member -> Karmada template"),
        ("template_platform", "  Karmada template -> platform"),
    ):
        values = fresh[key]
        line(
            label,
            f"p50 {pct(values, 50):.1f} s, p95 {pct(values, 95):.1f} s (n={len(values)})",
            "p95 <= 2 s" if key == "total" else "",
        )

    passes = max(1, counters_after["passes"] - counters_before["passes"])
    issued: dict[str, int] = {}
    for call, value in counters_after["requests"].items():
        delta = value - counters_before["requests"].get(call, 0)
        if delta and (call.startswith("list ") or call.startswith("watch ")):
            issued[call] = delta
    per_tick = sum(issued.values()) / passes
    line(
        "platform's Karmada requests per sync pass",
        f"{per_tick:.1f} ({passes} passes)",
        "independent of N",
    )
    for call, value in sorted(issued.items()):
        line(f"  {call}", f"{value / passes:.2f} per pass")
    per_job = {
        call: value - counters_before["requests"].get(call, 0)
        for call, value in counters_after["requests"].items()
        if call not in issued and value - counters_before["requests"].get(call, 0) > 0
    }
    line(
        "platform's other Karmada requests per job",
        f"{sum(per_job.values()) / n:.1f}",
    )
    for call, value in sorted(per_job.items(), key=lambda kv: -kv[1])[:8]:
        line(f"  {call}", f"{value / n:.2f} per job")
    lists = {
        key: req_after.get(key, 0) - req_before.get(key, 0)
        for key in req_after
        if key[0] in ("LIST", "WATCH") and req_after.get(key, 0) - req_before.get(key, 0) > 0
    }
    busiest = sorted(lists.items(), key=lambda kv: -kv[1])[:6]
    line(
        "Karmada apiserver LIST/WATCH per second (all clients)",
        ", ".join(f"{c / total:.2f} {v} {r}" for (v, r), c in busiest) or "none",
    )

    def p50_p95(histogram: str) -> str:
        before, after = counters_before[histogram], counters_after[histogram]
        return ", ".join(
            f"p{q} {histogram_quantile(before, after, q / 100) * 1000:.0f} ms" for q in (50, 95)
        )

    line("sync pass", p50_p95("sync"), "< 250 ms")
    line("  of which bringing the watched streams up to date", p50_p95("watch"))
    overlaps = counters_after["overlaps"] - counters_before["overlaps"]
    line("ticks that found a pass still running", f"{overlaps} of {passes + overlaps}")
    queries = counters_after["queries"] - counters_before["queries"]
    line("queries per sync pass", f"{queries / passes:.1f}", "independent of N")
    line("CPU seconds: worker, beat", f"{cpu['worker']:.1f} s, {cpu['beat']:.1f} s")
    busy = machine_after[0] - machine_before[0]
    capacity = machine_after[1] - machine_before[1]
    line(
        "machine CPU busy in the run",
        f"{busy:.0f} of {capacity:.0f} CPU-seconds ({100 * busy / max(capacity, 1):.0f} %)",
    )
    spent = {
        name: components_after.get(name, 0.0) - components_before.get(name, 0.0)
        for name in components_after
    }
    top = sorted(spent.items(), key=lambda kv: -kv[1])[:12]
    line("  by process", ", ".join(f"{name} {sec:.0f}" for name, sec in top if sec >= 1))
    work = sum(spent.values())
    line("  CPU seconds per job, whole pipeline", f"{work / n:.2f} s")
    if os.environ.get("BENCH_E2E_BASELINE", "1") != "0":
        direct, direct_clusters = baseline(stack, n, clients)
        line(
            "baseline: straight on Karmada, to all Succeeded",
            f"{direct:.1f} s ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(direct_clusters.items()))
            + ")",
        )
        line("  platform's time / baseline", f"{total / direct:.2f}", "overhead ratio")


BASELINE_NAMESPACE = "bench-baseline"


def baseline(stack: Stack, n: int, clients: int) -> tuple[float, dict[str, int]]:
    """docs/MEASURING's baseline: ``n`` copies of the platform's own XGBoost template
    created straight on Karmada by ``clients`` threads under one PropagationPolicy with the
    platform's placement terms (one cluster each, either member), timed to all Succeeded on
    the Karmada template. Returns the seconds and the workloads per member."""
    karmada = stack.testbed.kube("karmada")
    try:
        sample = karmada.request(
            "GET", f"/apis/kubeflow.org/v1/namespaces/{NAMESPACE}/xgboostjobs", query={"limit": "1"}
        )["items"][0]
        karmada.request(
            "POST",
            "/api/v1/namespaces",
            body={
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": BASELINE_NAMESPACE},
            },
        )
        karmada.request(
            "POST",
            f"/apis/policy.karmada.io/v1alpha1/namespaces/{BASELINE_NAMESPACE}/propagationpolicies",
            body={
                "apiVersion": "policy.karmada.io/v1alpha1",
                "kind": "PropagationPolicy",
                "metadata": {"name": "baseline"},
                "spec": {
                    "resourceSelectors": [{"apiVersion": "kubeflow.org/v1", "kind": "XGBoostJob"}],
                    "placement": {
                        "clusterAffinity": {"clusterNames": list(stack.testbed.members)},
                        "spreadConstraints": [
                            {"spreadByField": "cluster", "minGroups": 1, "maxGroups": 1}
                        ],
                    },
                },
            },
        )
    finally:
        karmada.close()
    labels = {k: v for k, v in sample["metadata"].get("labels", {}).items() if "karmada" not in k}
    labels.pop(JOB_ID_LABEL, None)
    labels["mlplatform.io/bench"] = "baseline"

    def manifest(i: int) -> dict:
        return {
            "apiVersion": sample["apiVersion"],
            "kind": sample["kind"],
            "metadata": {"name": f"baseline-{i}", "labels": labels},
            "spec": sample["spec"],
        }

    path = f"/apis/kubeflow.org/v1/namespaces/{BASELINE_NAMESPACE}/xgboostjobs"
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "kube"):
            local.kube = stack.testbed.kube("karmada")
        local.kube.request("POST", path, body=manifest(i))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(n)))
    karmada = stack.testbed.kube("karmada")
    done = {"n": 0}

    def all_succeeded() -> bool:
        items = karmada.request("GET", path, timeout=60)["items"]
        done["n"] = sum(
            1
            for item in items
            for cond in (item.get("status") or {}).get("conditions") or []
            if cond.get("type") == "Succeeded" and cond.get("status") == "True"
        )
        return done["n"] >= n

    try:
        wait_until(
            all_succeeded,
            timeout=max(900, n * 2),
            interval=2,
            message=f"all {n} baseline workloads Succeeded on Karmada",
            detail=lambda: f"{done['n']} Succeeded",
        )
        elapsed = time.monotonic() - started
        per_cluster = {}
        for member in stack.testbed.members:
            kube = stack.testbed.kube(member)
            try:
                per_cluster[member] = len(kube.request("GET", path, timeout=60)["items"])
            finally:
                kube.close()
        return elapsed, per_cluster
    finally:
        # The namespace's deletion takes its workloads and policy with it.
        karmada.request("DELETE", f"/api/v1/namespaces/{BASELINE_NAMESPACE}")
        wait_until(
            lambda: _gone(karmada, f"/api/v1/namespaces/{BASELINE_NAMESPACE}"),
            timeout=600,
            interval=2,
            message=f"namespace {BASELINE_NAMESPACE} deleted on Karmada",
        )
        karmada.close()
        # And in the members, so that their clean-up does not run into the next figures.
        for member in stack.testbed.members:
            kube = stack.testbed.kube(member)
            try:
                wait_until(
                    lambda kube=kube: not kube.request("GET", path, timeout=60)["items"],
                    timeout=600,
                    interval=2,
                    message=f"baseline workloads removed from {member}",
                )
            finally:
                kube.close()


def _gone(kube, path: str) -> bool:
    try:
        kube.request("GET", path)
    except Exception as exc:  # KubeError 404
        return getattr(exc, "status", None) == 404
    return False


def api_alone(stack: Stack, clients: int) -> None:
    """The web tier by itself, before the runs: the worker and beat paused (SIGSTOP), so
    nothing is submitted and the testbed is idle while gunicorn answers (in production they
    are separate machines). The jobs created here are removed from the database before the
    worker resumes, so they never reach Karmada; their queued submissions find nothing."""
    print("\n== API alone (worker and beat paused, testbed idle) ==")
    stack.platform.worker.signal_group(signal.SIGSTOP)
    stack.platform.beat.signal_group(signal.SIGSTOP)
    try:
        created, latencies, seconds = create_burst(
            stack.api, 1000, clients, f"api-{uuid.uuid4().hex[:5]}"
        )
        line(
            f"creates at {clients} clients",
            f"{1000 / seconds:.0f}/s, p50 {pct(latencies, 50):.0f} ms, "
            f"p99 {pct(latencies, 99):.0f} ms",
            ">= 150/s",
        )
        more = api_latency(stack, title=None)
        ids = [job["id"] for job in created + more]
        with stack.db.cursor() as cur:
            cur.execute("DELETE FROM jobs_jobevent WHERE job_id = ANY(%s::uuid[])", [ids])
            cur.execute("DELETE FROM jobs_trainingjob WHERE id = ANY(%s::uuid[])", [ids])
    finally:
        stack.platform.beat.signal_group(signal.SIGCONT)
        stack.platform.worker.signal_group(signal.SIGCONT)


def api_latency(stack: Stack, title: str | None = "API at 4 concurrent clients") -> list[dict]:
    """Create and list p50/p99 at 4 clients; returns the jobs it created."""
    if title:
        print(f"\n== {title} ==")
    created, create_ms, _ = create_burst(stack.api, 200, 4, f"lat-{uuid.uuid4().hex[:5]}")
    line(
        "create",
        f"p50 {pct(create_ms, 50):.0f} ms, p99 {pct(create_ms, 99):.0f} ms",
        "p99 <= 100 ms",
    )
    list_ms = list_pages(stack.api, 400, 4)
    line(
        "list page (50 jobs)",
        f"p50 {pct(list_ms, 50):.0f} ms, p99 {pct(list_ms, 99):.0f} ms",
        "p99 <= 50 ms",
    )
    return created


def main() -> int:
    from testbed import runtime
    from testbed.api import ensure_up

    counts = [int(x) for x in os.environ.get("BENCH_E2E_JOBS", "1000,100").split(",") if x]
    clients = int(os.environ.get("BENCH_E2E_CLIENTS", "16"))
    seed = int(os.environ.get("BENCH_E2E_SEED", "10000"))
    if LOG_DIR.exists():
        shutil.rmtree(LOG_DIR)
    LOG_DIR.mkdir(parents=True)
    print(f"bench-e2e: testbed {runtime.HOME}, ports from {PORT_BASE}; logs in {LOG_DIR}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    testbed = ensure_up()
    root = Path(tempfile.mkdtemp(prefix="mlplatform-bench-"))
    root.chmod(0o755)
    stack = None
    try:
        stack = Stack(testbed, root)
        print(stack.seed(seed))
        api_alone(stack, clients)
        for n in counts:
            run(stack, n, clients)
        api_latency(stack, title="API at 4 concurrent clients, right after the runs")
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(root, ignore_errors=True)
        if os.environ.get("BENCH_KEEP_TESTBED") != "1":
            runtime.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
