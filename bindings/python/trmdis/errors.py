"""Exceptions carrying the library's status code and its message (trm_last_error)."""

from __future__ import annotations

from typing import Dict, Type

from . import _lib


class TRMError(Exception):
    """A libtrmdis call failed. `status` is the trm_status code, `message` the library's explanation."""

    status: int = _lib.TRM_ERR_INTERNAL

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgumentError(TRMError, ValueError):
    """TRM_ERR_INVALID_ARG: a null pointer, a size or value out of range, a token id outside the vocabulary."""

    status = _lib.TRM_ERR_INVALID_ARG


class TRMIOError(TRMError, OSError):
    """TRM_ERR_IO: a file could not be read or written (an OSError too)."""

    status = _lib.TRM_ERR_IO


class FormatError(TRMError):
    """TRM_ERR_FORMAT: a file's contents are malformed."""

    status = _lib.TRM_ERR_FORMAT


class OutOfMemoryError(TRMError, MemoryError):
    """TRM_ERR_OOM: the buffers would not fit in memory."""

    status = _lib.TRM_ERR_OOM


class AbortedError(TRMError):
    """TRM_ERR_ABORTED: a callback or a stop request ended the call."""

    status = _lib.TRM_ERR_ABORTED


class ABIError(TRMError):
    """TRM_ERR_ABI: the library does not know a struct's size (binding and library disagree)."""

    status = _lib.TRM_ERR_ABI


class InternalError(TRMError):
    """TRM_ERR_INTERNAL: a bug in libtrmdis; please report it with the message."""

    status = _lib.TRM_ERR_INTERNAL


class NumericalError(TRMError, ArithmeticError):
    """TRM_ERR_NUMERIC: the computation produced NaN or infinity (diverged training, corrupt weights)."""

    status = _lib.TRM_ERR_NUMERIC


_BY_STATUS: Dict[int, Type[TRMError]] = {
    cls.status: cls
    for cls in (InvalidArgumentError, TRMIOError, FormatError, OutOfMemoryError, AbortedError, ABIError, InternalError,
                NumericalError)
}


def status_string(status: int) -> str:
    """The library's static description of a status code (trm_status_string)."""
    return _lib.lib.trm_status_string(status).decode()


def error_for(status: int) -> TRMError:
    """The exception for a failed call's status, with the calling thread's trm_last_error message."""
    message = _lib.lib.trm_last_error().decode("utf-8", "replace") or status_string(status)
    return _BY_STATUS.get(status, TRMError)(message, status)


def check(status: int) -> None:
    """Raises the matching TRMError subclass unless `status` is TRM_OK."""
    if status != _lib.TRM_OK:
        raise error_for(status)
