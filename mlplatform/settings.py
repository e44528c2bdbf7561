"""mlplatform settings. All environment reading happens here, through mlplatform.env.

DATABASE_URL (PostgreSQL; SQLite only when asked for with sqlite:///...), REDIS_URL and
KARMADA_KUBECONFIG_PATH name the engines; `make run` (mlplatform.launcher) starts embedded
PostgreSQL and Redis under var/ and sets the first two when they are unset.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from mlplatform.env import (
    database_config,
    envbool,
    envchoice,
    envduration,
    envheader,
    envint,
    envlimit,
    envlist,
    envrate,
    envstr,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("MLPLATFORM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", False)
# `make run` and the tests set MLPLATFORM_LOCAL=1: one host, throw-away secrets are fine.
LOCAL = envbool("MLPLATFORM_LOCAL", False)


def _secret_key() -> str:
    key = envstr("SECRET_KEY")
    if key:
        return key
    if not (DEBUG or LOCAL):
        # A key generated per replica would make every web pod refuse the others' sessions
        # and CSRF tokens, and change on every restart: a deployment must provide one.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY, or SECRET_KEY_FILE naming a file that "
            "holds it (the same key for every web, worker and beat process). For a "
            "single-host trial, MLPLATFORM_LOCAL=1 generates one under var/."
        )
    # A stable key for a single-host run with no configuration.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS ------------------------------------------------------------------------------
# Off by default so `make run` works on http://127.0.0.1; the compose file and the
# Kubernetes manifests turn them on (TLS is terminated by a proxy in front of the platform).
# "HTTP_X_FORWARDED_PROTO,https": trust the proxy's header to tell that a request was HTTPS.
SECURE_PROXY_SSL_HEADER = envheader("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Liveness and readiness probes, and Prometheus scraping /metrics, speak plain HTTP to the
# pod itself: they must be answered, not redirected to https (which the pod does not serve).
SECURE_REDIRECT_EXEMPT = [r"^health/?$", r"^metrics/?$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "clusters",
    "jobs",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mlplatform.login_limit.LoginRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Every page needs a login. Public views are marked @login_not_required (login); DRF
    # marks every API view so, since it answers 401 in the one error shape itself.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "mlplatform.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mlplatform.wsgi.application"

DATABASES = {"default": database_config(envstr("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "jobs:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Archived pod logs: files under var/ (one host, make run), or an S3-compatible bucket
# through django-storages, which every web and worker replica shares.
LOG_ARCHIVE_STORAGE = envchoice("LOG_ARCHIVE_STORAGE", "filesystem", ("filesystem", "s3"))
if LOG_ARCHIVE_STORAGE == "s3":
    STORAGES["log_archive"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": envstr("LOG_ARCHIVE_S3_BUCKET"),
            "endpoint_url": envstr("LOG_ARCHIVE_S3_ENDPOINT_URL") or None,
            "region_name": envstr("LOG_ARCHIVE_S3_REGION") or None,
            "location": envstr("LOG_ARCHIVE_S3_PREFIX", "pod-logs"),
            # Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an instance role),
            # read by boto3 itself. Never public: the platform serves the logs.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
    if not STORAGES["log_archive"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("LOG_ARCHIVE_STORAGE=s3 needs LOG_ARCHIVE_S3_BUCKET")
else:
    STORAGES["log_archive"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": envstr("LOG_ARCHIVE_DIR", str(VAR_DIR / "log-archive"))},
    }
# The last this many MiB of each container's log are kept.
LOG_ARCHIVE_MAX_MIB = float(envstr("LOG_ARCHIVE_MAX_MIB", "4"))
# Pods of one job archived (the rest are left out, and the log says so).
LOG_ARCHIVE_MAX_PODS = envint("LOG_ARCHIVE_MAX_PODS", 64)
# Archives older than this are removed by beat's prune task.
LOG_ARCHIVE_RETENTION = envduration("LOG_ARCHIVE_RETENTION", "720h")
# Without collectstatic (make run, tests) whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobs.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "jobs.api.pagination.JobPagination",
    "PAGE_SIZE": 50,
    # Rates are read per request from API_THROTTLE_USER / API_THROTTLE_ANON below.
    "DEFAULT_THROTTLE_CLASSES": [
        "jobs.api.throttling.AnonThrottle",
        "jobs.api.throttling.UserThrottle",
    ],
    # The client address for anonymous rates and failed logins: REMOTE_ADDR, or the address
    # this many trusted proxies back in X-Forwarded-For. Trusting the header without a
    # proxy that sets it would let every request claim a new address.
    "NUM_PROXIES": envint("NUM_PROXIES", 0),
}
# Per user (token or session) and per client address for requests without valid
# credentials (a wrong token counts as one). High enough for scripts polling many jobs; the
# web pages are not API calls and are not counted.
API_THROTTLE_USER = envrate("API_THROTTLE_USER", "1200/min")
API_THROTTLE_ANON = envrate("API_THROTTLE_ANON", "120/min")
# Failed sign-ins (pages and admin) per username and client address: after this many within
# the window, that pair is refused with 429 until the window ends.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = envduration("LOGIN_FAILURE_WINDOW", "15m")

SPECTACULAR_SETTINGS = {
    "TITLE": "mlplatform API",
    "DESCRIPTION": "Create, watch and delete distributed training jobs on Karmada member clusters.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Documents the operations that share a URL (GET/POST jobs) as separate operations.
    "DEFAULT_GENERATOR_CLASS": "jobs.api.routing.SchemaGenerator",
    "PREPROCESSING_HOOKS": ["jobs.api.routing.split_operation_views"],
    # Swagger UI's assets come from drf-spectacular-sidecar, served as our own static
    # files: the page must work on a cluster without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Karmada ------------------------------------------------------------------------
# Unset: `make run` starts the local testbed and sets it; the platform then talks to it.
KARMADA_KUBECONFIG_PATH = envstr("KARMADA_KUBECONFIG_PATH")
MGMT_KUBECONFIG_PATH = envstr("MGMT_KUBECONFIG_PATH")
# Where a job goes among the clusters that fit it: "spread" (weighted by free capacity) or
# "binpack" (the fullest that fits first).
PLACEMENT_STRATEGY = envchoice("PLACEMENT_STRATEGY", "spread", ("spread", "binpack"))
# Which Kubeflow API new jobs are sent as: "v1" (training-operator / mpi-operator kinds:
# TFJob, PyTorchJob, XGBoostJob, JAXJob, MPIJob) or "v2" (Kubeflow Trainer's TrainJob on
# ClusterTrainingRuntimes). Each job keeps the backend it was created with.
TRAINING_BACKEND = envchoice("TRAINING_BACKEND", "v1", ("v1", "v2"))
# Scrapers of /metrics send "Authorization: Bearer <METRICS_TOKEN>"; unset, only signed-in
# platform operators may read it.
METRICS_TOKEN = envstr("METRICS_TOKEN")
# Every Kubernetes request: seconds to connect, and seconds to wait for each answer.
KARMADA_CONNECT_TIMEOUT = envduration("KARMADA_CONNECT_TIMEOUT", "3s")
KARMADA_READ_TIMEOUT = envduration("KARMADA_READ_TIMEOUT", "10s")
# Namespaces no job may run in and no grant may open (shell patterns on the whole name):
# the cluster's own, Karmada's, the operators', and the platform's (k8s/base: ml-platform).
SYSTEM_NAMESPACES = envlist(
    "SYSTEM_NAMESPACES",
    ["kube-*", "karmada-*", "kubeflow", "mpi-operator", "ml-platform", "mlplatform"],
)
# Pod Security Standard enforced (and warned, audited) on the namespaces the platform
# creates. baseline, not restricted: MPI jobs (Horovod, DeepSpeed) run sshd as root.
POD_SECURITY_LEVEL = envchoice(
    "POD_SECURITY_LEVEL", "baseline", ("privileged", "baseline", "restricted")
)

# --- Queue and quotas -------------------------------------------------------------------
# The priorities a job may ask for, highest first; "normal" is the default and must be one.
JOB_PRIORITIES = envlist("JOB_PRIORITIES", ["high", "normal", "low"])
JOB_DEFAULT_PRIORITY = "normal"
if JOB_DEFAULT_PRIORITY not in JOB_PRIORITIES or len(set(JOB_PRIORITIES)) != len(JOB_PRIORITIES):
    raise ImproperlyConfigured(
        f"JOB_PRIORITIES={','.join(JOB_PRIORITIES)!r} must list distinct names, highest "
        "first, and include 'normal' (the default priority)."
    )
# The quota of a namespace without its own (admin or PUT /api/v1/quotas/<namespace>);
# unset or "unlimited": no limit.
QUOTA_DEFAULT_GPUS = envlimit("QUOTA_DEFAULT_GPUS")
QUOTA_DEFAULT_CPU_CORES = envlimit("QUOTA_DEFAULT_CPU_CORES")
QUOTA_DEFAULT_MEMORY_GIB = envlimit("QUOTA_DEFAULT_MEMORY_GIB")
QUOTA_DEFAULT_RUNNING_JOBS = envlimit("QUOTA_DEFAULT_RUNNING_JOBS")
# How often beat runs an admission pass over the queue (it also runs when a job ends, is
# deleted or a quota changes).
QUEUE_ADMIT_INTERVAL = envduration("QUEUE_ADMIT_INTERVAL", "2s")
# Also pass the job's priority to Karmada's scheduler as the PropagationPolicy's
# schedulePriority (PriorityClass "<KARMADA_PRIORITY_CLASS_PREFIX><priority>"); needs
# Karmada's PriorityBasedScheduling feature gate and those PriorityClasses on Karmada.
KARMADA_SCHEDULE_PRIORITY = envbool("KARMADA_SCHEDULE_PRIORITY", False)
KARMADA_PRIORITY_CLASS_PREFIX = envstr("KARMADA_PRIORITY_CLASS_PREFIX", "mlplatform-")

# Built-in algorithm images per framework (algorithm.source = "default"). Each receives the
# hyperparameters as --name=value arguments and as JSON in $HYPERPARAMETERS; operators point
# a framework at their own image with DEFAULT_IMAGE_<FRAMEWORK> (e.g. DEFAULT_IMAGE_XGBOOST).
_BUILTIN_IMAGES = {
    "tensorflow": "kubeflow/tf-mnist-with-summaries:latest",
    "pytorch": "kubeflow/pytorch-dist-mnist:latest",
    "xgboost": "kubeflow/xgboost-dist-iris:latest",
    "lightgbm": "kubeflow/lightgbm-dist-py-test:1.0",
    "jax": "kubeflow/jaxjob-simple:latest",
    "horovod": "horovod/horovod:0.28.1",
    "deepspeed": "mpioperator/deepspeed:latest",
}
DEFAULT_IMAGES = {
    framework: envstr(f"DEFAULT_IMAGE_{framework.upper()}", image)
    for framework, image in _BUILTIN_IMAGES.items()
}

# --- Celery -------------------------------------------------------------------------
JOB_MONITOR_INTERVAL = envduration("JOB_MONITOR_INTERVAL", "1s")
REDIS_URL = envstr("REDIS_URL")
# Throttle and failed-login counters must be shared by every web process: Redis when there
# is one, else memory (a single-host `make run`, where each process then counts alone).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mlplatform",
            # A hung Redis must not hold requests: the limits give up and let them through.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Unset, Celery has no broker: every platform process is given REDIS_URL (make run included).
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Priorities (jobs/tasks.py BURST_PRIORITY): one Redis list per step, "celery", "celery:3",
# "celery:6", "celery:9", served in that order.
CELERY_BROKER_TRANSPORT_OPTIONS = {"priority_steps": [0, 3, 6, 9], "sep": ":"}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
# How often the insight pass reads the pods of placed jobs (one LIST per member cluster
# and 50 jobs) to say why they wait; finished jobs' pods are read once, on the transition.
JOB_INSIGHT_INTERVAL = envduration("JOB_INSIGHT_INTERVAL", "10s")
# Finished jobs whose pods were never read are looked at for this long after they ended.
JOB_INSIGHT_RECENT_SECONDS = envint("JOB_INSIGHT_RECENT_SECONDS", 3600)
# At most this many jobs per insight pass (oldest first).
JOB_INSIGHT_MAX_JOBS = envint("JOB_INSIGHT_MAX_JOBS", 2000)
CELERY_BEAT_SCHEDULE = {
    "job-status-sync": {
        "task": "jobs.tasks.job_status_sync_task",
        "schedule": JOB_MONITOR_INTERVAL,
        # A late sync is worthless: the next one is already due.
        "options": {"expires": max(JOB_MONITOR_INTERVAL, 1.0)},
    },
    "job-pending-sweep": {
        "task": "jobs.tasks.job_pending_sweep_task",
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    "job-cleanup-sweep": {
        "task": "jobs.tasks.job_cleanup_sweep_task",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    "job-orphan-sweep": {
        "task": "jobs.tasks.job_cleanup_sweep_task",
        "schedule": 60.0,
        "kwargs": {"orphans": True},
        "options": {"expires": 60.0},
    },
    "queue-admit": {
        "task": "jobs.tasks.queue_admit_task",
        "schedule": QUEUE_ADMIT_INTERVAL,
        "options": {"expires": max(QUEUE_ADMIT_INTERVAL, 1.0)},
    },
    "job-insight-sync": {
        "task": "jobs.tasks.job_insight_sync_task",
        "schedule": JOB_INSIGHT_INTERVAL,
        "options": {"expires": JOB_INSIGHT_INTERVAL},
    },
    "cluster-inventory-sync": {
        "task": "clusters.tasks.cluster_inventory_sync_task",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "log-archive-prune": {
        "task": "jobs.tasks.log_archive_prune_task",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

# --- webhooks -------------------------------------------------------------------------
# The base of the job page links in deliveries, e.g. https://ml.example.com.
PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Attempts per delivery, and the first retry's delay (doubling, with jitter, capped 1 h).
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = envduration("WEBHOOK_RETRY_BASE_SECONDS", "10s")
WEBHOOK_TIMEOUT = envduration("WEBHOOK_TIMEOUT", "5s")
# Where endpoints may point (SSRF): by default only public addresses; link-local (cloud
# metadata), multicast and reserved ones never, loopback and private networks only when
# allowed here. WEBHOOK_ALLOWED_HOSTS (exact host names) skips the address checks for
# receivers an operator vouches for.
WEBHOOK_ALLOW_LOOPBACK = envbool("WEBHOOK_ALLOW_LOOPBACK", False)
WEBHOOK_ALLOW_PRIVATE = envbool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_ALLOWED_HOSTS = envlist("WEBHOOK_ALLOWED_HOSTS", [])
# Webhooks one user may register.
WEBHOOK_MAX_PER_USER = envint("WEBHOOK_MAX_PER_USER", 20)
# E-mail deliveries go through Django's mail backend (console unless EMAIL_HOST is set).
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "mlplatform@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
# Jobs Pending longer than this are re-enqueued by the sweep.
JOB_PENDING_RESUBMIT_AFTER = envint("JOB_PENDING_RESUBMIT_AFTER", 30)
JOB_SUBMIT_MAX_RETRIES = 8
# Wall time one status pass may spend asking Karmada before it leaves the rest to the next.
JOB_SYNC_BUDGET = envduration("JOB_SYNC_BUDGET", "20s")
# The sync watches what changed since its last pass: for at most this long per pass, until
# a stream is quiet this long, and lists every stream whole this often in any case. What
# happened between passes is replayed at once from the API server's watch cache, so the
# window only needs to read that replay: a longer one just holds a worker process while a
# burst keeps the streams busy (at 500 jobs, 150/50 ms gave a pass p50 of 427 ms and
# freshness p95 1.9 s; 250/100 ms gave 569 ms and 2.2 s).
JOB_SYNC_WATCH_LIMIT = envduration("JOB_SYNC_WATCH_LIMIT", "0.15s")
JOB_SYNC_WATCH_IDLE = envduration("JOB_SYNC_WATCH_IDLE", "0.05s")
JOB_SYNC_RESYNC_SECONDS = envint("JOB_SYNC_RESYNC_SECONDS", 60)
# A workload missing from Karmada fails its job only when still missing this long after.
JOB_MISSING_CONFIRM_SECONDS = envint("JOB_MISSING_CONFIRM_SECONDS", 5)
# Wall time one inventory pass may spend asking members for their nodes.
CLUSTER_INVENTORY_BUDGET = envduration("CLUSTER_INVENTORY_BUDGET", "20s")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"routine_tasks": {"()": "mlplatform.logfilters.RoutineTaskFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["routine_tasks"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"kubernetes": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
