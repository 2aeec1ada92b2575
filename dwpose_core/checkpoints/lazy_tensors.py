"""What the restricted reader (:mod:`.safe_pickle`) builds where a checkpoint's pickle describes
storages and tensors: inert descriptions (:class:`LazyStorage`, :class:`LazyTensor`), each
validated as it is built (a tensor must lie inside the storage the pickle declared). No tensor
data is read here, and nothing needs torch.
"""
from __future__ import annotations

import pickle
from typing import Any

__all__ = ["STORAGE_DTYPES", "MAX_DIMS", "StorageType", "LazyStorage", "LazyTensor", "READER_FUNCTIONS"]

MAX_DIMS = 32

# How torch pickles a storage's element type -> (dtype name, bytes per element).
STORAGE_DTYPES = {
    "FloatStorage": ("float32", 4), "DoubleStorage": ("float64", 8), "HalfStorage": ("float16", 2),
    "BFloat16Storage": ("bfloat16", 2), "LongStorage": ("int64", 8), "IntStorage": ("int32", 4),
    "ShortStorage": ("int16", 2), "CharStorage": ("int8", 1), "ByteStorage": ("uint8", 1),
    "BoolStorage": ("bool", 1), "UntypedStorage": ("uint8", 1),
}


class StorageType:
    __slots__ = ("name", "dtype", "itemsize")

    def __init__(self, name: str):
        self.name = name
        self.dtype, self.itemsize = STORAGE_DTYPES[name]

    def __setstate__(self, state):
        raise pickle.UnpicklingError("a storage type cannot be given state")


class LazyStorage:
    """A storage the pickle declares: ``numel`` elements of ``dtype`` in ``<archive>/data/<key>``."""

    __slots__ = ("key", "dtype", "itemsize", "numel")

    def __init__(self, key: str, dtype: str, itemsize: int, numel: int):
        self.key, self.dtype, self.itemsize, self.numel = key, dtype, itemsize, numel

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    def __setstate__(self, state):
        raise pickle.UnpicklingError("a storage cannot be given state")


class LazyTensor:
    """A tensor described by the pickle (validated: it lies inside its storage); no data read yet."""

    __slots__ = ("storage", "offset", "shape", "stride")

    def __init__(self, storage: LazyStorage, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    @property
    def dtype(self) -> str:
        return self.storage.dtype

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __setstate__(self, state):
        raise pickle.UnpicklingError("a tensor cannot be given state")

    def __repr__(self) -> str:
        return f"LazyTensor({self.dtype}, {list(self.shape)})"


def _int_tuple(value: Any, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_DIMS or not all(
            type(v) is int and v >= 0 for v in value):
        raise pickle.UnpicklingError(f"a tensor's {what} is not a short tuple of non-negative integers")
    return tuple(value)


def _rebuild_tensor(storage, offset, size, stride, *rest):
    if not isinstance(storage, LazyStorage):
        raise pickle.UnpicklingError("a tensor is rebuilt from something that is not a declared storage")
    if type(offset) is not int or offset < 0:
        raise pickle.UnpicklingError("a tensor's storage offset is not a non-negative integer")
    shape, strides = _int_tuple(size, "shape"), _int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise pickle.UnpicklingError(f"a tensor has shape {list(shape)} but strides {list(strides)}")
    if all(shape):
        last = offset + sum((d - 1) * s for d, s in zip(shape, strides))
        if last >= storage.numel:
            raise pickle.UnpicklingError(
                f"a tensor of shape {list(shape)} (strides {list(strides)}, offset {offset}) reaches element "
                f"{last} of storage {storage.key!r}, which has only {storage.numel}")
    return LazyTensor(storage, offset, shape, strides)


def _rebuild_parameter(data, *rest):
    if not isinstance(data, LazyTensor):
        raise pickle.UnpicklingError("a parameter is rebuilt from something that is not a tensor")
    return data


def _rebuild_from_type(func, new_type, args, state=None):
    # torch wraps tensor subclasses this way; only our own rebuild functions are ever called.
    if func not in (_rebuild_tensor, _rebuild_parameter) or not isinstance(args, tuple):
        raise pickle.UnpicklingError("a tensor subclass is rebuilt with an unexpected function")
    return func(*args)


# The torch rebuild functions a pickle may name -> ours, which build the descriptions above.
READER_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
}
