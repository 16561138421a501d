"""Where a simulated LND node writes its credentials, and one simulator per folder at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from app.errors import ConfigError
from app.settings import Settings

STANDALONE_FOLDER: Final = "sandbox-lnd-standalone"
LOCK_FILE: Final = "simulator.lock"


def default_folder(settings: Settings) -> Path:
    """MCP_SANDBOX_LND_DIR when set; else a folder of its own, never the demo's (data/sandbox-lnd).

    The demo passes its folder explicitly; a simulator started by hand beside it used to share that default
    and overwrote the demo's macaroons, certificate and sandbox token.
    """
    if "sandbox_lnd_dir" in settings.model_fields_set:  # set in the environment or .env, so meant
        return settings.sandbox_lnd_dir
    return settings.data_dir / STANDALONE_FOLDER


@contextmanager
def claim_folder(directory: Path) -> Iterator[None]:
    """Hold `directory` for this simulator; refuse (ConfigError) while another simulator holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    # An advisory lock the kernel drops when the process ends, so a killed simulator leaves no stale claim.
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise ConfigError(
                f"{directory} belongs to a running LND simulator (pid {holder}, the demo's if make run is up); "
                "its credentials would be overwritten: pass --data-dir with a folder of its own",
                {"data_dir": str(directory), "pid": holder},
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
