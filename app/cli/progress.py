"""Progress and timing lines on stderr, so stdout stays clean for results."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label ...` then the elapsed time when the block ends."""
    print(f"{label} ...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        print(" failed", file=sys.stderr, flush=True)
        raise
    print(f" {time.perf_counter() - started:.2f} s", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """An informational line on stderr."""
    print(message, file=sys.stderr, flush=True)
