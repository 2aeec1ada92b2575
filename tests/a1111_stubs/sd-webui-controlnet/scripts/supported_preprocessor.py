"""Stand-in for sd-webui-controlnet's preprocessor registry (scripts/supported_preprocessor.py).

Behaviour modelled on the real one:
- ``Preprocessor`` is an abstract dataclass; ``name`` is its only required field, the
  display label defaults to the name (``_label``), tags default to an empty list;
- two class-level dicts hold every instance: ``all_processors`` keyed by label and
  ``all_processors_by_name`` keyed by name; ``add_supported_preprocessor`` asserts that
  both keys are new (so registering twice raises ``AssertionError``);
- ``get_preprocessor`` looks a module up by label first, then by name;
- the UI lists ``get_sorted_preprocessors()`` / ``get_filtered_preprocessors(tag)``;
- generation and the API go through ``cached_call`` which returns a ``Result``;
- before each generation ``unload_unused(active)`` calls ``unload()`` on all others;
- ``device`` comes from ``modules.devices.get_device_for("controlnet")``.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, NamedTuple, Optional

from modules import devices


@dataclass
class PreprocessorParameter:
    label: str = "EMPTY_LABEL"
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.01
    value: float = 0.5
    visible: bool = True


@dataclass
class Preprocessor(ABC):
    name: str
    _label: str = None
    tags: List[str] = field(default_factory=list)
    slider_resolution = PreprocessorParameter(label="Resolution", minimum=64, maximum=2048, value=512, step=8)
    slider_1 = PreprocessorParameter(visible=False)
    slider_2 = PreprocessorParameter(visible=False)
    slider_3 = PreprocessorParameter(visible=False)
    returns_image: bool = True
    accepts_mask: bool = False
    requires_mask: bool = False
    sorting_priority = 0
    model: Optional[Any] = None
    device = devices.get_device_for("controlnet")

    all_processors: ClassVar[Dict[str, "Preprocessor"]] = {}
    all_processors_by_name: ClassVar[Dict[str, "Preprocessor"]] = {}

    @property
    def label(self) -> str:
        return self.name if self._label is None else self._label

    @classmethod
    def add_supported_preprocessor(cls, p: "Preprocessor"):
        assert p.label not in cls.all_processors, f"{p.label} already registered!"
        cls.all_processors[p.label] = p
        assert p.name not in cls.all_processors_by_name, f"{p.name} already registered!"
        cls.all_processors_by_name[p.name] = p

    @classmethod
    def get_preprocessor(cls, name: str) -> Optional["Preprocessor"]:
        found = cls.all_processors.get(name)
        return found if found is not None else cls.all_processors_by_name.get(name)

    @classmethod
    def get_sorted_preprocessors(cls) -> List["Preprocessor"]:
        others = [p for label, p in cls.all_processors.items() if label != "none"]
        others.sort(key=lambda p: str(p.sorting_priority).zfill(8) + p.label, reverse=True)
        return [cls.all_processors["none"]] + others

    @classmethod
    def get_filtered_preprocessors(cls, tag: str) -> List["Preprocessor"]:
        return [p for p in cls.get_sorted_preprocessors() if tag in p.tags or p.label == "none"]

    @classmethod
    def unload_unused(cls, active_processors):
        for p in cls.all_processors.values():
            if p not in active_processors:
                p.unload()

    class Result(NamedTuple):
        value: Any
        display_images: List[Any]

    def cached_call(self, input_image, *args, **kwargs) -> "Preprocessor.Result":
        result = self(input_image, *args, **kwargs)
        if isinstance(result, Preprocessor.Result):
            return result
        return Preprocessor.Result(value=result, display_images=[result if self.returns_image else input_image])

    def __hash__(self):
        return hash(self.name)

    def __eq__(self, other):
        return hash(self) == hash(other)

    @abstractmethod
    def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                 input_mask=None, **kwargs):
        pass

    def unload(self) -> bool:
        if self.model is None:
            return False
        self.model = None
        return True
