"""The loop thread the schedulers inside ``memberlens serve`` run in: one named daemon thread
that sleeps on an event, so :meth:`BackgroundLoop.stop` ends it at once (the app stops it when
it shuts down; the test session fails on a ``memberlens-*`` thread left running)."""

from __future__ import annotations

import threading

__all__ = ["BackgroundLoop"]


class BackgroundLoop:
    """Subclasses set ``thread_name`` and implement :meth:`_loop` (which returns when
    ``self._stop.wait(...)`` is true)."""

    thread_name = "memberlens-loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        raise NotImplementedError
