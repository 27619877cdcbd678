"""The lifetime plumbing every wrapper of a library handle shares."""

from __future__ import annotations

from typing import Any, Callable, Optional

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
