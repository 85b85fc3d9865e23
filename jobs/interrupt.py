"""Ctrl-C as a request to stop, for commands that run long work on the main thread.

    stop = threading.Event()
    with ctrl_c_sets(stop):
        run(spec, recorder, should_stop=stop.is_set)   # stops at its next step, saving a checkpoint
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def ctrl_c_sets(event: threading.Event):
    """While inside: the first Ctrl-C (SIGINT) sets `event` instead of raising KeyboardInterrupt
    wherever the main thread happens to be (one raised inside a database call or a checkpoint
    write can be swallowed there, or leave a half-written state); a second one raises as usual.
    Outside the main thread (where signals cannot be handled) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(_signum, _frame):
        event.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
