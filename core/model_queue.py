"""One model, one run at a time: the widgets of a page share each loaded model and its cache, so
their runs take turns on it, in the order they asked.

A backend keeps one KV cache. Two generation loops feeding it at once interleave their tokens
and each reads scores meant for the other (on the counting backend a run alone gives
``[4, 5, 6]``, beside another it gave ``[4, 23, 24]``). A run therefore holds the model's turn
for its whole length, tool rounds included. The shared ``Generator`` remembers what the cache
holds, so a run after another widget's re-feeds its own context and nothing else.

A run waiting for its turn can be stopped; it then never touches the model.

    >>> import asyncio
    >>> queue, order = ModelQueue(), []
    >>> async def job(name, waits):
    ...     async with queue.turn(name, on_wait=lambda holder: order.append(f"{name} waits for {holder}")):
    ...         order.append(f"{name} runs")
    ...         await asyncio.sleep(waits)
    >>> async def both():
    ...     await asyncio.gather(job("chat", 0.01), job("lanes", 0))
    >>> asyncio.run(both()); order
    ['chat runs', 'lanes waits for chat', 'lanes runs']
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from .generation import is_cancelled

POLL_SECONDS = 0.05  # how often a waiting run looks at its stop flag
WAITING = "Waiting for the model: another widget on this page is using it…"  # what a waiting widget says


class StoppedWaiting(Exception):
    """The reader stopped a run before the model was free for it."""


class ModelQueue:
    def __init__(self):
        self._lock = asyncio.Lock()  # FIFO: waiters get the model in the order they asked
        self.holder: str | None = None  # who runs on the model now

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @asynccontextmanager
    async def turn(self, who: str, on_wait=None, cancel=None):
        """Hold the model for the block. ``on_wait(holder)`` is called once when ``who`` has to
        wait; ``cancel`` (see ``generation.is_cancelled``) set while waiting raises
        ``StoppedWaiting``."""
        if self._lock.locked() and on_wait is not None:
            on_wait(self.holder)
        await self._acquire(cancel)
        self.holder = who
        try:
            yield self
        finally:
            self.holder = None
            self._lock.release()

    async def _acquire(self, cancel) -> None:
        if cancel is None:
            await self._lock.acquire()
            return
        waiter = asyncio.ensure_future(self._lock.acquire())
        while True:
            done, _ = await asyncio.wait([waiter], timeout=POLL_SECONDS)
            if done:
                waiter.result()
                return
            if is_cancelled(cancel):
                waiter.cancel()
                try:
                    await waiter
                except asyncio.CancelledError:
                    raise StoppedWaiting("stopped while waiting for the model") from None
                # the lock was granted just as the stop came: give the turn back
                self._lock.release()
                raise StoppedWaiting("stopped while waiting for the model")
