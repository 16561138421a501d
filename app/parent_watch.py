"""Stop a helper process when the process that started it is gone (no orphan keeps its port)."""

from __future__ import annotations

import os
import signal
import threading
import time


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
    exit_with_parent()
