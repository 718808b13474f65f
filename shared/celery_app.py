"""The one Celery app: Redis broker and backend, one queue per service, at-least-once.

Tasks are sent by name (`celery_app.send_task("transformation.load_partition", ...)`); no
service imports another's tasks. Every task is safe to run twice, so messages are acked
late and re-queued when a worker dies.
"""

from __future__ import annotations

import gc

from celery import Celery
from celery.signals import setup_logging, task_prerun, worker_init, worker_process_init
from kombu import Exchange, Queue

from shared.settings import BrokerSettings, current

QUEUES = ("ingestion", "transformation", "quality")
# Container objects allocated (net) before a young collection; Python's default is 700. A
# page of nested orders parses into thousands of objects that live until the page is
# written, so with 700 each page met several collections that walked it and found nothing
# to free (the objects die by reference count once the page is written).
GC_YOUNG_THRESHOLD = 10_000


def make_celery(settings: BrokerSettings | None = None) -> Celery:
    """The Celery app on the broker of `settings` (default: the process's).

    A process checks its own settings at its start (`load_settings_or_exit` in its tasks,
    schedule or api module); the app needs only the broker's part of them.
    """
    s = settings or current(BrokerSettings)
    app = Celery("retail", broker=s.redis_url, backend=s.redis_url)
    transport = {"visibility_timeout": s.task_visibility_timeout_seconds}
    app.conf.update(
        # Each queue its own direct exchange and routing key: with shared defaults every
        # queue would be bound under one key, and Redis would copy a message into every
        # bound queue (or drop it where none is bound yet).
        task_queues=[Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        task_default_queue="ingestion",
        task_default_exchange="ingestion",
        task_default_routing_key="ingestion",
        # Route by the task name's prefix: "ingestion.x" runs on queue "ingestion".
        task_routes=[lambda name, *a, **k: {"queue": name.split(".", 1)[0]}
                     if name.split(".", 1)[0] in QUEUES else None],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        task_track_started=True,
        # Task events (published on Redis, dropped when nobody listens): Flower's view of
        # the workers, and its /metrics (docs/operations.md, "Metrics"), are built from them.
        worker_send_task_events=True,
        task_send_sent_event=True,
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery()


@setup_logging.connect
def _configure_worker_logging(**_kwargs) -> None:
    from shared.logging import configure_logging

    configure_logging()


@worker_init.connect
@worker_process_init.connect
def tune_collector(**_kwargs) -> None:
    """Keep the cyclic garbage collector off what a worker's tasks cannot free.

    The objects of the worker's start (modules, the app, settings; over 140k in the
    ingestion worker) live as long as the process, yet each full collection walked them
    again; they are frozen, in the parent before the pool forks (so the children leave those
    pages shared) and again in each child. Young collections wait for GC_YOUNG_THRESHOLD
    objects. The ingestion worker spent 2.0-3.0 CPU s per million lines in the collector,
    0.1-0.6 s now (docs/performance.md, round six).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@task_prerun.connect
def _bind_run_id(task=None, kwargs=None, **_extra) -> None:
    # Every task of a run takes run_id; bind it so each log line of the task carries it.
    from shared.logging import set_context

    ctx = {k: (kwargs or {}).get(k) for k in ("run_id", "retailer_id", "run_date")}
    set_context(**ctx, task=task.name if task else None)
