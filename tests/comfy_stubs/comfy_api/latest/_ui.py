"""Stand-in for ``comfy_api.latest.ui``: the UI-output helpers the pack uses."""
from ._io import FolderType, _UIOutput


class SavedResult(dict):
    """A file the frontend can fetch through /view: {filename, subfolder, type}."""

    def __init__(self, filename: str, subfolder: str, type: FolderType):
        super().__init__(filename=filename, subfolder=subfolder, type=type.value)

    @property
    def filename(self):
        return self["filename"]

    @property
    def subfolder(self):
        return self["subfolder"]

    @property
    def type(self):
        return FolderType(self["type"])


class PreviewText(_UIOutput):
    def __init__(self, value: str, **kwargs):
        self.value = value

    def as_dict(self):
        return {"text": (self.value,)}


__all__ = ["SavedResult", "PreviewText"]
