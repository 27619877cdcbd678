"""Dataset: examples for training and evaluation (trm_dataset)."""

from __future__ import annotations

import ctypes
import os
import weakref
from typing import Any, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _convert, _lib
from ._handle import NativeHandle, created
from .errors import InvalidArgumentError, check

_lib_fn = _lib.lib
PathLike = Union[str, "os.PathLike[str]"]

#: The label value that the loss and the accuracies ignore.
IGNORE_LABEL = -100


def _free_dataset(handle: int) -> None:
    _lib_fn.trm_dataset_free(handle)


class Dataset(NativeHandle):
    """Examples (trm_dataset): inputs and labels of shape (N, seq_len), with -100 in labels for ignored
    cells, and optional puzzle ids (N,). The arrays are copied into the library.

    Tokens are checked against a model's vocabulary when the dataset is used (Trainer, Model.evaluate).
    close() frees it (trm_dataset_free); trainers made from it keep their copy.
    """

    _kind = "dataset"

    def __init__(self, inputs: ArrayLike, labels: ArrayLike, puzzle_ids: Optional[ArrayLike] = None) -> None:
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise InvalidArgumentError(f"inputs must have shape (N, seq_len) with N, seq_len >= 1, not {x.shape}")
        n, seq_len = x.shape
        x = _convert.int_array(x, "inputs", (n, seq_len))
        y = _convert.int_array(labels, "labels", (n, seq_len))
        ids = None if puzzle_ids is None else _convert.int_array(puzzle_ids, "puzzle_ids", (n,))
        i32 = ctypes.POINTER(ctypes.c_int32)
        handle = ctypes.c_void_p()
        check(_lib_fn.trm_dataset_create(
            seq_len, x.ctypes.data_as(i32), y.ctypes.data_as(i32), x.size,
            None if ids is None else ids.ctypes.data_as(i32), n, ctypes.byref(handle)))
        self._adopt(created(handle))

    def _adopt(self, handle: int) -> None:
        self._handle: Optional[int] = handle
        self._finalizer = weakref.finalize(self, _free_dataset, handle)
        size, seq_len = ctypes.c_int64(0), ctypes.c_int32(0)
        check(_lib_fn.trm_dataset_size(handle, ctypes.byref(size)))
        check(_lib_fn.trm_dataset_seq_len(handle, ctypes.byref(seq_len)))
        self.size = size.value
        self.seq_len = seq_len.value

    @classmethod
    def load(cls, directory: Union[PathLike, Sequence[PathLike]], split: str = "train") -> "Dataset":
        """One split ("train" or "test") of a dataset directory in the official TRM .npy layout
        (trm_dataset_load): every set its dataset.json lists, with the groups and puzzles the sampler draws
        (a group, one of its puzzles, all of that puzzle's examples) and the DIS intermediate steps where the
        directory has them. A list of directories is merged as the official code merges its data_paths
        (trm_dataset_load_paths)."""
        if not isinstance(split, str):
            raise InvalidArgumentError(f"split must be a str, not {type(split).__name__}")
        handle = ctypes.c_void_p()
        if isinstance(directory, (str, bytes, os.PathLike)):
            check(_lib_fn.trm_dataset_load(_convert.path(directory, "directory"), _convert.path(split, "split"),
                                           ctypes.byref(handle)))
        else:
            paths = [_convert.path(d, f"directory[{i}]") for i, d in enumerate(directory)]
            if not paths:
                raise InvalidArgumentError("directory: an empty list")
            array = (ctypes.c_char_p * len(paths))(*paths)
            check(_lib_fn.trm_dataset_load_paths(array, len(paths), _convert.path(split, "split"), ctypes.byref(handle)))
        dataset = cls.__new__(cls)
        dataset._adopt(created(handle))
        return dataset

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<trmdis.Dataset {self.size} examples of {self.seq_len} tokens{' closed' if self.closed else ''}>"
