"""Stop a helper process when the process that started it is gone (no orphan keeps its port)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def exit_with_parent(poll_s: float = 0.5) -> None:
    """Send ourselves SIGTERM (a graceful stop) once our parent process has exited."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def follow_parent() -> None:
    """Initializer of a worker process the service owns: Ctrl-C is left to the parent, and it exits with it.

    A terminal's Ctrl-C reaches the whole process group. The parent shuts its pool down in order; a worker
    interrupted while it waited for work only printed a KeyboardInterrupt traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Started under `sigint_blocked`: a Ctrl-C that came while this process was starting is pending, and
    # is discarded now that it is ignored.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    exit_with_parent()


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Hold Ctrl-C back in this thread while it starts worker processes, which inherit the mask.

    A worker interrupted before its initializer ran (importing, unpickling) printed a traceback; held
    back, the signal waits until `follow_parent` ignores it, and reaches this thread when the block ends.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
