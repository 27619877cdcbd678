"""The plumbing every wrapper of a library handle shares: lifetime, and Ctrl-C during a long call."""

from __future__ import annotations

import ctypes

import contextlib
import signal
import threading
from typing import Any, Callable, Iterator, Optional

from .errors import InvalidArgumentError


class NativeHandle:
    """Owns one trm_* handle: `handle` (raises once closed), `closed`, an idempotent `close()` that runs
    the weakref finalizer (the matching trm_*_free), and use as a context manager. Subclasses set
    `_handle` and `_finalizer` (None for a borrowed handle, which is only detached) and `_kind`."""

    _kind = "object"
    _handle: Optional[int]
    _finalizer: Optional[Callable[[], Any]]

    @property
    def handle(self) -> int:
        """The native pointer (raises if closed)."""
        if self._handle is None:
            raise InvalidArgumentError(f"the {self._kind} is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Releases the handle. Idempotent."""
        self._handle = None
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def sigint_requests_stop(request_stop: Callable[[], Any]) -> Iterator[None]:
    """While a run or a prediction is in progress on the main thread, Ctrl-C (SIGINT, when Python's default handler is in
    place) requests a stop instead of raising inside the C callback, where ctypes would swallow it; the caller
    re-raises KeyboardInterrupt once the call has stopped cleanly."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, lambda signum, frame: request_stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def created(out: "ctypes.c_void_p") -> int:
    """The handle a successful trm_*_create / load / import wrote to `out` (never NULL after TRM_OK)."""
    if out.value is None:
        raise RuntimeError("trmdis: the library reported success but returned a NULL handle")
    return out.value
