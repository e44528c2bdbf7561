# One image for every platform process. The default command serves the web UI and API;
# the Celery worker, Celery beat and the migration run the same image with another command
# (see docker-compose.yml and k8s/base/).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: dependencies and static files --------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A virtualenv is one directory to copy into the runtime stage, without pip's leftovers.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Requirements alone first: a code change then reuses the cached dependency layer.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic imports the settings, which need a key and a writable var directory; both
# are throw-away here so no secret or database ends up in a layer. The bytecode is compiled
# now because the root filesystem is read-only at run time.
RUN SECRET_KEY=collectstatic-only MLPLATFORM_VAR_DIR=/tmp/build-var STATIC_ROOT=/app/staticfiles \
      python manage.py collectstatic --noinput \
    && python -m compileall -q /app \
    && rm -rf /tmp/build-var

# --- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=mlplatform.settings \
    STATIC_ROOT=/app/staticfiles
# A fixed numeric uid lets Kubernetes prove runAsNonRoot without looking inside the image.
RUN groupadd --system --gid 10001 mlplatform \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin mlplatform
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The code stays owned by root: the platform cannot rewrite itself. Only var/ (the Celery
# beat schedule, scratch files) is the platform's; deployments mount a fresh volume there.
COPY --from=build /app /app
RUN mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001:10001
EXPOSE 8000
# /health answers without a session or database. The Host header must be in ALLOWED_HOSTS,
# which always includes localhost.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; r = u.urlopen(u.Request('http://127.0.0.1:8000/health', headers={'Host': 'localhost'}), timeout=4); sys.exit(r.status != 200)"]
# Heartbeat files in shared memory: /tmp may be slow or small, and the root is read-only.
CMD ["gunicorn", "mlplatform.wsgi:application", "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-", "--timeout", "60"]
