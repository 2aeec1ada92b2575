"""Read the tensors of a zip-format torch checkpoint without executing pickled code.

mmengine training checkpoints (what mmpose/DWPose publish as ``.pth``) hold the
weights plus optimizer state, ``meta`` and a message hub of arbitrary Python
objects, so ``torch.load(weights_only=True)`` refuses them and
``weights_only=False`` would run whatever the pickle names. This reader
unpickles with a ``find_class`` that only resolves tensor-rebuild functions,
storage types and plain containers; every other global becomes an inert
placeholder that records its arguments and never runs anything. Tensor data is
read lazily from the zip, so only the tensors actually asked for (usually the
``state_dict``) are materialised.
"""
from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any, Union

# Legacy storage class names (how torch pickles a storage's element type) -> numpy dtype name.
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}


class CheckpointFormatError(ValueError):
    """The file is not a checkpoint this reader understands; the message says what it is."""


class Placeholder:
    """Stands in for any object the reader refuses to construct. Holds its data, does nothing."""

    _module = "?"
    _name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs, self.state, self.items = args, kwargs, None, []

    def __setstate__(self, state: Any) -> None:  # BUILD
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # SETITEMS on dict subclasses
        self.items.append((key, value))

    def append(self, value: Any) -> None:  # APPENDS on list subclasses
        self.items.append(value)

    def extend(self, values: Any) -> None:
        self.items.extend(values)

    def __repr__(self) -> str:
        return f"<not loaded: {self._module}.{self._name}>"


def _placeholder_class(module: str, name: str) -> type:
    return type("Placeholder", (Placeholder,), {"_module": module, "_name": name})


class _StorageType:
    def __init__(self, dtype: str):
        self.dtype = dtype


class LazyStorage:
    def __init__(self, key: str, dtype: str):
        self.key, self.dtype = key, dtype


class LazyTensor:
    """A tensor described by the pickle; :meth:`Checkpoint.load` reads its bytes."""

    def __init__(self, storage: LazyStorage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, int(offset), tuple(size), tuple(stride)

    @property
    def dtype(self) -> str:
        return self.storage.dtype

    def __repr__(self) -> str:
        return f"LazyTensor({self.dtype}, {list(self.shape)})"


def _rebuild_tensor(storage, offset, size, stride, *rest):
    if not isinstance(storage, LazyStorage):
        return _placeholder_class("torch._utils", "_rebuild_tensor")(storage, offset, size, stride)
    return LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *rest):
    return data


def _rebuild_from_type(func, new_type, args, state):
    # torch wraps tensor subclasses this way; we only ever call our own allowed rebuild functions.
    if func in (_rebuild_tensor, _rebuild_parameter):
        return func(*args)
    return _placeholder_class("torch._tensor", "_rebuild_from_type_v2")(func, new_type, args, state)


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, LazyStorage] = {}

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        return _placeholder_class(module, name)

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise CheckpointFormatError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key = pid[1], str(pid[2])
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else "uint8"
        if key not in self.storages:
            self.storages[key] = LazyStorage(key, dtype)
        return self.storages[key]


class Checkpoint:
    """An open zip-format torch checkpoint: ``root`` is the unpickled object, tensors lazy.

    Use as a context manager; call :meth:`load` on the part you need (e.g. the
    ``state_dict``) while it is open.
    """

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        if not zipfile.is_zipfile(self.path):
            with open(self.path, "rb") as f:
                head = f.read(2)
            hint = ("It looks like a legacy (pre-1.6) torch file; re-save it with a current torch "
                    "or use the ONNX file instead." if head[:1] == b"\x80" else
                    "It is not a torch zip checkpoint (a truncated or corrupt download?).")
            raise CheckpointFormatError(f"{self.path.name}: cannot read the checkpoint. {hint}")
        self.archive = zipfile.ZipFile(self.path)
        names = self.archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            self.archive.close()
            raise CheckpointFormatError(f"{self.path.name}: no data.pkl inside; not a torch checkpoint.")
        self.prefix = pkl[0][: -len("data.pkl")]
        order = self.prefix + "byteorder"
        self.big_endian = order in names and self.archive.read(order).strip() == b"big"
        with self.archive.open(pkl[0]) as f:
            self.root = _SafeUnpickler(f).load()
        self._bytes: dict[str, bytes] = {}

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._bytes.clear()
        self.archive.close()

    def tensor(self, lazy: LazyTensor):
        """Materialise one tensor as a contiguous torch tensor."""
        import torch

        key = lazy.storage.key
        raw = self._bytes.get(key)
        if raw is None:
            raw = self._bytes[key] = self.archive.read(f"{self.prefix}data/{key}")
        dtype = getattr(torch, lazy.dtype)
        flat = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if self.big_endian and flat.element_size() > 1:
            view = flat.view(torch.int16 if flat.element_size() == 2 else
                             torch.int32 if flat.element_size() == 4 else torch.int64)
            flat = torch.from_numpy(view.numpy().byteswap()).view(dtype)
        return torch.as_strided(flat, lazy.shape, lazy.stride, lazy.offset).clone()

    def load(self, obj: Any) -> Any:
        """Materialise every LazyTensor in a nest of dicts/lists/tuples; other leaves pass through."""
        if isinstance(obj, LazyTensor):
            return self.tensor(obj)
        if isinstance(obj, dict):
            return type(obj)((k, self.load(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.load(v) for v in obj)
        return obj
