"""Python values as the C types of Include/trmdis.h: one place for every conversion, each refusing what ctypes
would silently wrap, truncate or misread (a bool as an integer, 2**32 as an int32_t, a NUL in a path)."""

from __future__ import annotations

import operator
import os
from typing import Any, Tuple

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError


def integer(value: Any, name: str, low: int, high: int, ctype: str) -> int:
    """`value` as an integer in [low, high), the range of C type `ctype`."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be an integer, not a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer, not {value!r}") from None
    if not low <= number < high:
        raise InvalidArgumentError(f"{name} = {number} does not fit in {ctype}")
    return number


def int32(value: Any, name: str) -> int:
    return integer(value, name, -(2**31), 2**31, "int32_t")


def int64(value: Any, name: str) -> int:
    return integer(value, name, -(2**63), 2**63, "int64_t")


def uint64(value: Any, name: str) -> int:
    return integer(value, name, 0, 2**64, "uint64_t (0...2**64-1)")


def positive(value: Any, name: str) -> int:
    """An int64_t of at least 1."""
    number = int64(value, name)
    if number < 1:
        raise InvalidArgumentError(f"{name} must be >= 1 or None (got {value!r})")
    return number


def number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be a number, not a bool")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, not {value!r}") from None


def flag(value: Any, name: str) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise InvalidArgumentError(f"{name} must be a bool, not {value!r}")


def path(value: Any, name: str) -> bytes:
    """A filesystem path as the library's UTF-8 bytes; a NUL byte (which C would read as the end of the path,
    silently naming another file) is refused."""
    if isinstance(value, bytes):
        encoded = value
    else:
        try:
            encoded = os.fsencode(os.fspath(value))
        except TypeError:
            raise InvalidArgumentError(f"{name} must be a path, not {type(value).__name__}") from None
    if b"\0" in encoded:
        raise InvalidArgumentError(f"{name} contains a NUL byte: {value!r}")
    return encoded


def int_array(values: object, name: str, shape: Tuple[int, ...]) -> NDArray[np.int32]:
    """`values` as a C-contiguous int32 array of `shape`, refusing other shapes and values int32 cannot hold."""
    array = np.asarray(values)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise InvalidArgumentError(f"{name} must hold integers, not {array.dtype}")
    if array.shape != shape:
        raise InvalidArgumentError(f"{name} must have shape {shape}, not {array.shape}")
    if array.size and array.dtype != np.int32:
        low, high = int(array.min()), int(array.max())
        if low < -(2**31) or high >= 2**31:
            raise InvalidArgumentError(f"{name} holds {low if low < -(2**31) else high}, outside int32")
    return np.ascontiguousarray(array, dtype=np.int32)
