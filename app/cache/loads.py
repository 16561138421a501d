"""Loads in flight in this process, one per key: readers that find nothing remembered join the running one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

_T = TypeVar("_T")


def _retrieved(outcome: asyncio.Future[Any]) -> None:
    """Mark a load's failure as seen: the loader raised it already, whether or not anyone else waited."""
    if not outcome.cancelled():
        outcome.exception()


class LoadsInFlight:
    """Each key's running load with the invalidation epoch it began in.

    A value loaded before an invalidation is one the invalidation dropped: a reader in a later epoch does not
    join that load but starts its own.
    """

    def __init__(self) -> None:
        self._loading: dict[Hashable, tuple[asyncio.Future[Any], int]] = {}

    def busy(self, key: Hashable) -> bool:
        """Whether a load of `key` is running (a stale value may serve meanwhile)."""
        return key in self._loading

    def joinable(self, key: Hashable, epoch: int) -> asyncio.Future[Any] | None:
        """The outcome to come of the load of `key` begun in `epoch`, if one runs."""
        loading, began = self._loading.get(key, (None, -1))
        return loading if began == epoch else None

    async def run(self, key: Hashable, epoch: int, load: Callable[[], Awaitable[_T]]) -> _T:
        """`load()` as the key's load until it returns: readers joining meanwhile share its outcome."""
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        outcome.add_done_callback(_retrieved)
        self._loading[key] = (outcome, epoch)
        try:
            value = await load()
        except asyncio.CancelledError:
            outcome.cancel()
            raise
        except BaseException as exc:
            outcome.set_exception(exc)
            raise
        else:
            outcome.set_result(value)
        finally:
            if self._loading.get(key, (None, 0))[0] is outcome:  # a later load may have taken the key
                del self._loading[key]
        return value
