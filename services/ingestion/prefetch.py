"""A bounded read-ahead: a thread runs an iterator a few items ahead of its consumer.

Fetching a page is mostly waiting on the network, during which the GIL is free, so the next
page downloads while the current one is normalized and written. The queue's bound keeps
memory flat: at most `depth` pages wait besides the one being processed.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class Prefetcher(Generic[T]):
    """Iterate `source` in a background thread, `depth` items ahead (0: no thread at all).

    An exception raised by `source` is re-raised in the consumer at the point it happened.
    Use as a context manager (or call `close`) so the thread stops when the consumer does.
    """

    def __init__(self, source: Iterator[T], depth: int, name: str = "prefetch") -> None:
        self._source = source
        self._depth = depth
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if depth > 0:
            # The thread runs in a copy of the caller's context, so its log lines carry the
            # same bound run_id and retailer_id.
            context = contextvars.copy_context()
            self._thread = threading.Thread(target=context.run, args=(self._run,), name=name,
                                            daemon=True)
            self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)

    def __iter__(self) -> Iterator[T]:
        if self._thread is None:
            yield from self._source
            return
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)  # a daemon: a call in flight may outlive us

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
