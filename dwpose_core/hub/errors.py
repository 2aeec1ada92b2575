"""Errors the hub raises. Each message says which file, what was wrong and what to do."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ..errors import DWPoseError


class HubError(DWPoseError):
    """Base class of every checkpoint-hub error."""


class ModelNotFoundError(HubError, FileNotFoundError):
    """No usable copy of a model file exists here and none could be downloaded.

    ``filename`` is the file looked for, ``searched`` the folders looked in
    (where to put it by hand) and ``url`` where to get it (None for files the
    registry does not know).
    """

    def __init__(self, message: str, *, filename: str = "", searched: Sequence[Path] = (),
                 url: Optional[str] = None):
        super().__init__(message)
        self.filename = filename
        self.searched = list(searched)
        self.url = url

    def __str__(self) -> str:  # FileNotFoundError would otherwise print errno-style text
        return self.args[0] if self.args else ""


class CorruptModelError(ModelNotFoundError):
    """The only copies found (or downloaded) are damaged or not the expected model.

    A subclass of :class:`ModelNotFoundError`: to a caller both mean "no usable
    file"; ``problems`` lists (path, what was wrong) for each rejected file.
    """

    def __init__(self, message: str, *, problems: Sequence[tuple[Path, str]] = (), **kwargs):
        super().__init__(message, **kwargs)
        self.problems = list(problems)


class DownloadError(ModelNotFoundError):
    """A download was refused or interrupted; nothing partial was kept.

    ``unreachable``: the hub could not be reached or did not answer in time (other downloads from
    it would fail the same way)."""

    def __init__(self, message: str, *, unreachable: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.unreachable = unreachable


class UnsupportedModelError(HubError, ValueError):
    """The file is known but cannot be used (e.g. TorchScript); the message says what to use instead."""


class ModelKindError(HubError, ValueError):
    """A detector was given where a pose model is needed, or the other way round."""
