# One image per service, all from this file: `docker build --target <service> .`
#
#   retailers       a simulated retailer (RETAILER_ID picks which), and `retailers seed`
#   ingestion       the ingestion API (default command) and, with another command, its workers
#   beat            Celery beat: yesterday's run every day, the sweeper, backfill slots
#   stream-consumer the ingestion service's stream consumer (retailer4's events on NATS JetStream)
#   transformation  the replay API (default command) and, with another command, its workers
#   quality         the quality API and page (default command) and its workers
#   setup           the one-shot `retail db-init` that builds the warehouse
#   flower          the Celery monitor (compose profile `ops`)
#
# One builder stage builds the project's wheel and every dependency's wheel once (pinned by
# requirements.lock), then one venv per service with the wheel and only that service's
# dependency group; each final image holds its venv and nothing else of the build (no
# source tree, no compilers, no other service's packages).

# The base image. Docker Hub's official image by default; a machine without a registry
# builds an equivalent locally and passes it (`--build-arg PYTHON_IMAGE=localhost/...`,
# see docs/containers.md).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json
RUN useradd --create-home --uid 10001 app
WORKDIR /home/app

# --- build: the project's wheel and its dependencies' wheels, once for every service ---------
FROM python AS builder
# A CA bundle for pip when the network intercepts TLS (mounted by the build, see
# docs/containers.md); empty means pip's own.
ARG PIP_CERT=
ENV PIP_CERT=${PIP_CERT}
RUN python3 -m venv /opt/build
WORKDIR /src
# The dependencies first, from pyproject.toml alone (no package yet, so the project wheel of
# this step is empty and dropped): a code change does not fetch them again. The cache mount
# keeps downloaded wheels between builds (BuildKit and Buildah both have it).
COPY pyproject.toml README.md requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/build/bin/pip wheel --quiet --wheel-dir /deps --constraint requirements.lock \
      '.[retailers,ingestion,stream-consumer,beat,transformation,quality,setup,flower]' && \
    rm /deps/retail_pipeline-*.whl
COPY shared ./shared
COPY services ./services
COPY retailers ./retailers
COPY suite ./suite
COPY database ./database
RUN /opt/build/bin/pip wheel --quiet --no-deps --wheel-dir /wheels .

# One venv per service, each the wheel with that service's group only, installed offline from
# the wheels above. All in this one stage, so building the next image costs one COPY; each
# venv lives at its final path (a venv cannot move), so each image copies its own.
RUN for group in retailers ingestion stream-consumer beat transformation quality setup flower; do \
      python3 -m venv /opt/venvs/$group && \
      /opt/venvs/$group/bin/pip install --quiet --no-index --find-links /wheels --find-links /deps \
        "retail-pipeline[$group]" || exit 1; \
    done

# --- the images ------------------------------------------------------------------------------

# What every image shares: it runs as `app`, from its own venv (each image holds one of these
# directories; a venv cannot move, so each keeps its build path). An image's stage below
# says only what is its own: its venv, its variables, its healthcheck and its command.
FROM python AS runtime
ENV PATH=/opt/venvs/retailers/bin:/opt/venvs/ingestion/bin:/opt/venvs/stream-consumer/bin:/opt/venvs/beat/bin:/opt/venvs/transformation/bin:/opt/venvs/quality/bin:/opt/venvs/setup/bin:/opt/venvs/flower/bin:$PATH
USER app

# A simulated retailer, served by gunicorn (port 5001-5004). Also runs `retailers init-db` /
# `retailers seed`. /health answers from the app's own database (its control state).
FROM runtime AS retailers
COPY --from=builder /opt/venvs/retailers /opt/venvs/retailers
ENV RETAILER_ID=retailer1 RETAILER_PORT=5001 RETAILER_WORKERS=2
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['RETAILER_PORT'], timeout=4)"
CMD ["sh", "-c", "exec gunicorn -w \"$RETAILER_WORKERS\" -k gthread --threads 4 -b \"0.0.0.0:$RETAILER_PORT\" \"retailers.wsgi:create_app('$RETAILER_ID')\""]

# The ingestion API on port 8001 (this command) and workers (`celery -A
# services.ingestion.tasks:celery_app worker -Q ingestion`, whose healthcheck compose sets).
# /readyz answers only when PostgreSQL, Redis and S3 answer this process.
FROM runtime AS ingestion
COPY --from=builder /opt/venvs/ingestion /opt/venvs/ingestion
ENV RETAIL_PROCESS_NAME=ingestion INGESTION_HOST=0.0.0.0 INGESTION_PORT=8001
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['INGESTION_PORT'], timeout=4)"
CMD ["sh", "-c", "exec uvicorn services.ingestion.api:create_app --factory --host \"$INGESTION_HOST\" --port \"$INGESTION_PORT\" --no-access-log"]

# The stream consumer (retailer4's events on NATS JetStream): the ingestion service's
# dependencies, its own process. Healthy while its loop beats (it touches a file each loop).
FROM runtime AS stream-consumer
COPY --from=builder /opt/venvs/stream-consumer /opt/venvs/stream-consumer
ENV RETAIL_PROCESS_NAME=stream-consumer
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-m", "services.ingestion.stream.health", "--max-age", "60"]
CMD ["python", "-m", "services.ingestion.stream.consumer"]

# Celery beat. Its healthcheck reads when the scheduler last sent a task: every 10 s while it
# lives (the backfill slots), so an entry older than a minute means the schedule stopped.
FROM runtime AS beat
COPY --from=builder /opt/venvs/beat /opt/venvs/beat
ENV RETAIL_PROCESS_NAME=beat
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 CMD ["python", "-m", "services.ingestion.beat", "/tmp/celerybeat-schedule", "--max-age", "60"]
CMD ["celery", "-A", "services.ingestion.schedule:celery_app", "beat", "-S", "services.ingestion.beat:HeartbeatScheduler", "-s", "/tmp/celerybeat-schedule"]

# The transformation replay API on port 8002 (this command) and workers
# (`celery -A services.transformation.tasks:celery_app worker -Q transformation`).
# /readyz: the warehouse (with its marts installed) and the broker answer.
FROM runtime AS transformation
COPY --from=builder /opt/venvs/transformation /opt/venvs/transformation
ENV RETAIL_PROCESS_NAME=transformation TRANSFORMATION_HOST=0.0.0.0 TRANSFORMATION_PORT=8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['TRANSFORMATION_PORT'], timeout=4)"
CMD ["sh", "-c", "exec uvicorn services.transformation.api:create_app --factory --host \"$TRANSFORMATION_HOST\" --port \"$TRANSFORMATION_PORT\" --no-access-log"]

# The quality API and page on port 8003 (this command) and workers
# (`celery -A services.quality.tasks:celery_app worker -Q quality`).
# /readyz: PostgreSQL and Redis answer (/health would turn 503 on a failed verdict).
FROM runtime AS quality
COPY --from=builder /opt/venvs/quality /opt/venvs/quality
ENV RETAIL_PROCESS_NAME=quality QUALITY_HOST=0.0.0.0 QUALITY_PORT=8003
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['QUALITY_PORT'], timeout=4)"
CMD ["sh", "-c", "exec uvicorn services.quality.api:create_app --factory --host \"$QUALITY_HOST\" --port \"$QUALITY_PORT\" --no-access-log"]

# The one-shot setup: build (or bring up to date) the warehouse from the SQL in the wheel.
FROM runtime AS setup
COPY --from=builder /opt/venvs/setup /opt/venvs/setup
ENV RETAIL_PROCESS_NAME=setup
CMD ["retail", "db-init"]

# Flower on the Celery broker (port 5555).
FROM runtime AS flower
COPY --from=builder /opt/venvs/flower /opt/venvs/flower
ENV FLOWER_PORT=5555
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthcheck' % os.environ['FLOWER_PORT'], timeout=4)"
CMD ["sh", "-c", "exec celery -A shared.celery_app:celery_app flower --port=\"$FLOWER_PORT\" --address=0.0.0.0"]
