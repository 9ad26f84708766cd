"""The answer slots one `kora serve` worker shares between the chat and the HTTP API.

At most ``answer_concurrency`` questions are answered at once, whoever asks: a chat
session (a Gradio worker thread that blocks until its turn) or an API request (a
coroutine that awaits its turn without holding a thread). Both wait in one line, first
come first served. Gradio's own queue holds the chat's waiting users without limit; the
API's line is bounded (``max_waiting``): a request beyond it is turned away at once with
an estimate of when to try again, instead of waiting for minutes behind a crowd.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

# the first estimate of an answer's duration, before one was measured (extractive answers
# take well under a second, LLM answers many)
INITIAL_ANSWER_SECONDS = 2.0
MAX_RETRY_AFTER_SECONDS = 600


class QueueFull(Exception):
    """The API's line is full; ``retry_after`` is an estimate in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"answer queue full, retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(eq=False)
class _Waiter:
    """One place in the line: a blocked thread (``event``) or a coroutine (``future``)."""

    api: bool
    event: threading.Event | None = None
    future: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    granted: bool = False

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.future is not None and self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class Slot:
    """A granted slot; ``release`` gives it to the next in line (once, from any thread)."""

    slots: AnswerSlots
    started: float = field(default_factory=time.monotonic)
    _released: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self.slots._release(time.monotonic() - self.started)


class Ticket:
    """An API request's place in the line (``AnswerSlots.reserve``)."""

    def __init__(self, slots: AnswerSlots, waiter: _Waiter | None) -> None:
        self.slots = slots
        self.waiter = waiter

    async def wait(self) -> Slot:
        """The slot, once it is this request's turn. Cancelled (the client left while
        waiting), the place is given up, or the slot passed on if it had just come."""
        waiter = self.waiter
        if waiter is not None and waiter.future is not None:
            try:
                await waiter.future
            except asyncio.CancelledError:
                self.slots._abandon(waiter)
                raise
        return Slot(self.slots)

    def cancel(self) -> None:
        """Give up a ticket that will never be waited for."""
        if self.waiter is None:
            Slot(self.slots).release()
        else:
            self.slots._abandon(self.waiter)


class AnswerSlots:
    def __init__(self, limit: int, *, max_waiting: int) -> None:
        self.limit = limit
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._free = limit
        self._line: deque[_Waiter] = deque()
        self._average = INITIAL_ANSWER_SECONDS

    # --- the chat (threads) -----------------------------------------------------------

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Block this thread until a slot is free; hold it for the ``with`` block."""
        waiter = None
        with self._lock:
            if self._free and not self._line:
                self._free -= 1
            else:
                waiter = _Waiter(api=False, event=threading.Event())
                self._line.append(waiter)
        if waiter is not None and waiter.event is not None:
            waiter.event.wait()
        slot = Slot(self)
        try:
            yield
        finally:
            slot.release()

    # --- the API (coroutines) ---------------------------------------------------------

    def reserve(self) -> Ticket:
        """A place in the line, taken at once (call it on the event loop); raises
        ``QueueFull`` when ``max_waiting`` API requests wait already."""
        with self._lock:
            if self._free and not self._line:
                self._free -= 1
                return Ticket(self, None)
            waiting = sum(1 for waiter in self._line if waiter.api)
            if waiting >= self.max_waiting:
                raise QueueFull(self._retry_after(len(self._line)))
            loop = asyncio.get_running_loop()
            waiter = _Waiter(api=True, future=loop.create_future(), loop=loop)
            self._line.append(waiter)
            return Ticket(self, waiter)

    # --- bookkeeping ------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._line)

    @property
    def busy(self) -> int:
        with self._lock:
            return self.limit - self._free

    def _retry_after(self, ahead: int) -> int:
        """Seconds until the line ahead has probably been answered (lock held)."""
        seconds = self._average * (ahead + 1) / self.limit
        return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(seconds)))

    def _release(self, seconds: float) -> None:
        with self._lock:
            self._average = 0.8 * self._average + 0.2 * seconds
            self._hand_on()

    def _hand_on(self) -> None:
        """A slot came free: the first in line gets it, else it stays free (lock held)."""
        if self._line:
            waiter = self._line.popleft()
            waiter.granted = True
            waiter.wake()
        else:
            self._free += 1

    def _abandon(self, waiter: _Waiter) -> None:
        with self._lock:
            if not waiter.granted:
                self._line.remove(waiter)
                return
            self._hand_on()  # it had just got the slot: pass it on


__all__ = ["AnswerSlots", "QueueFull", "Slot", "Ticket"]
