"""An iterator's items made ahead of use by a background thread (at most `depth` waiting), so that
reading and transforming the next rows of a file overlaps with training on the ones before.

This replaces tf.data's prefetch for Python generators: a prefetch thread calls into Python, and when
Keras drops an iterator mid-stream (it stops a validation pass after its stated number of batches)
TensorFlow waits, holding the interpreter lock, for a call that needs that lock — a deadlock. Here the
thread is Python's own, and closing the generator stops it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


def read_ahead(items: Iterable, depth: int = 8) -> Iterator:
    """Yield `items` in order, produced by a daemon thread up to `depth` ahead; an exception in the
    thread is raised here. Closing this generator (or dropping it) stops the thread.

    Example:
        >>> list(read_ahead(range(5), depth=2))
        [0, 1, 2, 3, 4]
    """
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put((_DONE, exc))

    thread = threading.Thread(target=produce, name="dlrun-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = waiting.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
