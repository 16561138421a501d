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
