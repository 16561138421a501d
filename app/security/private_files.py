"""Files that hold secrets: read only when owner-only (0600 or stricter), written owner-only from the start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.errors import ConfigError

LOOSE_MODE_BITS = 0o7177  # group, other, setuid/setgid/sticky and owner-execute: anything beyond 0600


def read_private_file(path: Path, what: str) -> bytes:
    """Bytes of a regular file whose mode is 0600 or stricter; checked on the opened descriptor (no race)."""
    try:
        # O_NONBLOCK: opening a FIFO planted at the path must not hang start-up.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot open {what} {path}: {exc.strerror}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(status.st_mode)
        if mode & LOOSE_MODE_BITS:
            raise ConfigError(
                f"{what} {path} has mode {mode:04o}; it must be readable by its owner only. "
                f"Run: chmod 600 {path}"
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (never widened by the umask, never overwriting) and write `data`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a secret file") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
