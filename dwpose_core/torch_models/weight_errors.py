"""The two errors weight loading raises, in a module of their own so that the loaders
(:mod:`.onnx_weights`, :mod:`.checkpoint_weights`, :mod:`.loading`) share them without import cycles.
"""
from __future__ import annotations

from ..errors import DWPoseError

__all__ = ["WeightsFormatError", "ArchitectureMismatch"]


class WeightsFormatError(DWPoseError, ValueError):
    """The file is not a model this backend can read; the message says what it found."""


class ArchitectureMismatch(DWPoseError, ValueError):
    """The weights do not fit the architecture; the message names the first differing tensor."""
