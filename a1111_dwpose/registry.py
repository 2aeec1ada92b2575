"""Finding the ControlNet preprocessor registry and adding our variants to it, idempotently.

Two registries are known:

- sd-webui-controlnet (v1.1.444 and later): ``Preprocessor`` in its
  ``scripts/supported_preprocessor.py``, a dataclass with class-level dicts
  ``all_processors`` (by label) and ``all_processors_by_name``; ``add_supported_preprocessor``
  asserts that both are new. Its modules are importable only as ``scripts.*`` while its
  own folder is on ``sys.path``, so we only ever look it up in ``sys.modules``.
- Forge's built-in ControlNet: ``modules_forge.shared.add_supported_preprocessor`` into the
  dict ``supported_preprocessors`` (by name, no label), base class in
  ``modules_forge.supported_preprocessor``.
"""
from __future__ import annotations

import importlib
import sys
from typing import Optional

from .runner import VARIANTS, A1111Models, Variant, run_variant

_PREFIX = "[DWPose]"
_cache: Optional[A1111Models] = None
_classes: dict = {}  # base class -> our subclass (one per registry class object)
_conflicts_reported: set = set()


def shared_cache() -> A1111Models:
    """The one estimator holder behind every registered entry (survives "Reload UI")."""
    global _cache
    if _cache is None:
        _cache = A1111Models()
    return _cache


# --------------------------------------------------------------------------- sd-webui-controlnet

def controlnet_base():
    """sd-webui-controlnet's ``Preprocessor`` class if it is loaded and has the API we use."""
    module = sys.modules.get("scripts.supported_preprocessor")
    base = getattr(module, "Preprocessor", None)
    if not isinstance(base, type):
        return None
    needed = ("add_supported_preprocessor", "get_preprocessor", "all_processors", "all_processors_by_name")
    if not all(hasattr(base, attr) for attr in needed):
        return None
    if not isinstance(base.all_processors, dict) or not isinstance(base.all_processors_by_name, dict):
        return None
    return base


class _DWPoseCalls:
    """What both registries' entries do when called: run our estimator; unload never raises."""

    dwpose_variant: Variant
    dwpose_cache: A1111Models

    def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                 input_mask=None, **kwargs):
        return run_variant(self.dwpose_variant, self.dwpose_cache, input_image, resolution,
                           kwargs.get("json_pose_callback"))

    def unload(self) -> bool:
        try:
            return self.dwpose_cache.release(self.dwpose_variant.name)
        except Exception:  # called before every generation: must never raise
            return False


def _controlnet_class(base):
    cls = _classes.get(base)
    if cls is not None:
        return cls

    class DWPoseOpenPosePreprocessor(_DWPoseCalls, base):
        """A DWPose variant in sd-webui-controlnet's registry (torch backend on A1111's device)."""

        def __init__(self, variant: Variant, cache: A1111Models):
            try:
                super().__init__(name=variant.name)
            except TypeError:  # a registry version whose constructor takes no name
                super().__init__()
                self.name = variant.name
            self._label = variant.label
            self.tags = ["OpenPose"]
            self.returns_image = True
            self.dwpose_variant = variant
            self.dwpose_cache = cache


    _classes[base] = DWPoseOpenPosePreprocessor
    return DWPoseOpenPosePreprocessor


def _register_controlnet(base) -> list[str]:
    """Names now registered by us (whether just now or earlier)."""
    cls = _controlnet_class(base)
    done = []
    for variant in VARIANTS:
        by_name = base.all_processors_by_name.get(variant.name)
        by_label = base.all_processors.get(variant.label)
        if by_name is not None or by_label is not None:
            if isinstance(by_name, cls) and isinstance(by_label, cls):
                done.append(variant.name)  # already ours (second load, "Reload UI")
            else:
                _report_conflict(variant)
            continue
        try:
            base.add_supported_preprocessor(cls(variant, shared_cache()))
        except AssertionError:  # the registry's uniqueness asserts, e.g. a half registration
            _report_conflict(variant)
            continue
        done.append(variant.name)
    return done


# --------------------------------------------------------------------------- Forge

def forge_registry():
    """(base class, shared module) of Forge's built-in ControlNet, or None."""
    shared = sys.modules.get("modules_forge.shared")
    if shared is None or not callable(getattr(shared, "add_supported_preprocessor", None)):
        return None
    if not isinstance(getattr(shared, "supported_preprocessors", None), dict):
        return None
    module = sys.modules.get("modules_forge.supported_preprocessor")
    if module is None:
        try:  # Forge's own module (its package is already loaded, so the name is unambiguous)
            module = importlib.import_module("modules_forge.supported_preprocessor")
        except Exception:
            return None
    base = getattr(module, "Preprocessor", None)
    return (base, shared) if isinstance(base, type) else None


def _forge_class(base):
    cls = _classes.get(base)
    if cls is not None:
        return cls

    class DWPoseForgePreprocessor(_DWPoseCalls, base):
        """A DWPose variant in Forge's registry (shown by name; Forge has no labels)."""

        def __init__(self, variant: Variant, cache: A1111Models):
            super().__init__()
            self.name = variant.name
            self.tags = ["OpenPose"]
            self.model_filename_filters = ["openpose"]
            self.dwpose_variant = variant
            self.dwpose_cache = cache


    _classes[base] = DWPoseForgePreprocessor
    return DWPoseForgePreprocessor


def _register_forge(base, shared) -> list[str]:
    cls = _forge_class(base)
    done = []
    for variant in VARIANTS:
        existing = shared.supported_preprocessors.get(variant.name)
        if existing is not None:
            if isinstance(existing, cls):
                done.append(variant.name)
            else:
                _report_conflict(variant)
            continue
        shared.add_supported_preprocessor(cls(variant, shared_cache()))
        done.append(variant.name)
    return done


# --------------------------------------------------------------------------- both

def ensure_registered() -> bool:
    """Register every variant in every loaded registry; True when a usable registry was found
    (a name clash is reported by itself and does not count as a missing registry)."""
    found = False
    base = controlnet_base()
    if base is not None:
        _register_controlnet(base)
        found = True
    forge = forge_registry()
    if forge is not None:
        _register_forge(*forge)
        found = True
    return found


def registered_names() -> list[str]:
    names: list[str] = []
    base = controlnet_base()
    if base is not None:
        cls = _classes.get(base)
        names += [v.label for v in VARIANTS if cls and isinstance(base.all_processors.get(v.label), cls)]
    forge = forge_registry()
    if forge is not None:
        cls = _classes.get(forge[0])
        names += [v.name for v in VARIANTS
                  if cls and isinstance(forge[1].supported_preprocessors.get(v.name), cls)]
    return names


def absence_reason() -> str:
    """One line saying why no dropdown got our preprocessors, and what to do."""
    if "scripts.supported_preprocessor" in sys.modules:
        return ("sd-webui-controlnet's preprocessor registry differs from the one this extension knows "
                "(Preprocessor.add_supported_preprocessor); the DWPose preprocessors were not added. "
                "Update sd-webui-controlnet and this extension.")
    if any(name in sys.modules for name in ("scripts.global_state", "scripts.external_code", "scripts.controlnet")):
        return ("this sd-webui-controlnet is too old for outside preprocessors (it has no "
                "scripts/supported_preprocessor.py, added after v1.1.443); update it to get the "
                "DWPose preprocessors.")
    if "modules_forge.shared" in sys.modules:
        return ("Forge's ControlNet preprocessor registry was not found in the expected form; "
                "the DWPose preprocessors were not added.")
    return ("sd-webui-controlnet is not installed or not enabled, so the DWPose preprocessors were not "
            "added (install https://github.com/Mikubill/sd-webui-controlnet and restart).")


def _report_conflict(variant: Variant) -> None:
    if variant.name in _conflicts_reported:
        return
    _conflicts_reported.add(variant.name)
    print(f"{_PREFIX} another preprocessor already uses the name {variant.name!r} or label "
          f"{variant.label!r}; ours was not added (is a second copy of this extension installed?).")
