"""Tensors of a zip-format torch checkpoint, read without executing pickled code.

mmengine training checkpoints (what mmpose/DWPose publish as ``.pth``) hold the
weights plus optimizer state, ``meta`` and a message hub of arbitrary Python
objects, so ``torch.load(weights_only=True)`` refuses them and
``weights_only=False`` would run whatever the pickle names. The pickle is read
by the hub's restricted reader (:mod:`dwpose_core.checkpoints.safe_pickle`, the same
one the hub's structural check uses, so a file that passes the check is a
file this module can read). Here we only materialise tensors: each storage
is streamed from the zip straight into the buffer the tensor will use (no
second copy), and only the tensors asked for (usually the ``state_dict``) are
read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from .safe_pickle import (  # noqa: F401  re-exported: the loader's vocabulary
    CheckpointArchive,
    CheckpointFormatError,
    LazyStorage,
    LazyTensor,
    Placeholder,
    UnsafeCheckpointError,
    find_state_dict,
)

__all__ = ["Checkpoint", "CheckpointFormatError", "UnsafeCheckpointError", "LazyTensor", "Placeholder",
           "find_state_dict"]


class Checkpoint(CheckpointArchive):
    """An open checkpoint: ``root`` is the unpickled tree (tensors lazy). Use as a context manager and
    call :meth:`load` / :meth:`tensor` on the parts you need while it is open."""

    def __init__(self, path: Union[str, Path]):
        super().__init__(path)
        self._flat: dict[str, Any] = {}  # storage key -> flat torch tensor, for storages shared by views

    def close(self) -> None:
        self._flat.clear()
        super().close()

    def _storage_tensor(self, storage: LazyStorage):
        import torch

        flat = self._flat.get(storage.key)
        if flat is not None:
            return flat
        dtype = getattr(torch, storage.dtype)
        if storage.nbytes == 0:
            flat = torch.empty(0, dtype=dtype)
        else:
            buf = bytearray(storage.nbytes)
            self.read_storage_into(storage, buf)
            flat = torch.frombuffer(buf, dtype=dtype)
            if self.big_endian and storage.itemsize > 1:
                ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[storage.itemsize]
                flat = torch.from_numpy(flat.view(ints).numpy().byteswap()).view(dtype)
        self._flat[storage.key] = flat
        return flat

    def tensor(self, lazy: LazyTensor):
        """One tensor as a torch tensor that owns its memory (a whole storage is used without copying)."""
        import torch

        flat = self._storage_tensor(lazy.storage)
        contiguous = _contiguous_strides(lazy.shape)
        if lazy.offset == 0 and lazy.numel == lazy.storage.numel and tuple(lazy.stride) == contiguous:
            self._flat.pop(lazy.storage.key, None)  # handed out whole: other views of it re-read it
            return flat.view(lazy.shape) if lazy.shape else flat.reshape(())
        try:
            return torch.as_strided(flat, lazy.shape, lazy.stride, lazy.offset).clone()
        except RuntimeError as exc:  # already validated; keep the message naming the file anyway
            raise CheckpointFormatError(f"{self.label}: a tensor cannot be rebuilt ({exc})", self.path) from None

    def load(self, obj: Any) -> Any:
        """Materialise every LazyTensor in a nest of dicts/lists/tuples; other leaves pass through."""
        if isinstance(obj, LazyTensor):
            return self.tensor(obj)
        if isinstance(obj, dict):
            return type(obj)((k, self.load(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.load(v) for v in obj)
        return obj


def _contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))
