"""The one SHA-256 helper of the hub: of a file on disk, or of bytes as they stream past."""
from __future__ import annotations

import hashlib
import os
from typing import Union

CHUNK = 1 << 20


class Sha256:
    """Feed bytes with :meth:`update` (e.g. while a download is written); :meth:`hexdigest` at the end."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, data) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    digest = Sha256()
    digest.update(data)
    return digest.hexdigest()


def sha256_file(path: Union[str, os.PathLike], chunk: int = CHUNK) -> str:
    digest = Sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()
