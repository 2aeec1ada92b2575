"""What we read from the running A1111/Forge: its torch device and its model folders.

Only modules A1111 has already imported are consulted (``sys.modules``): importing
``modules.*`` ourselves could pick up an unrelated package of that name outside A1111.
Every lookup tolerates a missing or different attribute (A1111 versions, Forge).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, Optional, Union

_extension_root: Optional[Path] = None


def set_extension_root(root: Union[str, Path]) -> None:
    global _extension_root
    _extension_root = Path(root).resolve()


def extension_root() -> Path:
    """Folder holding ``dwpose_core`` (the extension's own folder inside ``extensions/``)."""
    return _extension_root or Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def core_importable() -> Iterator[None]:
    """Make ``import dwpose_core...`` work at call time.

    A1111 puts the extension folder on ``sys.path`` only while our script file loads;
    later imports of core submodules go through the package once it is imported, but
    the package itself must come from our folder.
    """
    root = str(extension_root())
    if "dwpose_core" in sys.modules or root in sys.path:
        yield
        return
    sys.path.insert(0, root)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(root)


def torch_device() -> Optional[str]:
    """The device A1111 gives ControlNet (``devices.get_device_for("controlnet")``), as a string."""
    devices = sys.modules.get("modules.devices")
    if devices is None:
        return None
    device = None
    get_device_for = getattr(devices, "get_device_for", None)
    if callable(get_device_for):
        try:
            device = get_device_for("controlnet")
        except Exception:
            device = None
    if device is None:
        device = getattr(devices, "device", None)
    return None if device is None else str(device)


def model_dirs() -> list[Path]:
    """Folders where A1111 users already keep DWPose files, best first, existing or not.

    ``<ControlNet annotator models>/openpose`` (sd-webui-controlnet's own downloads:
    ``extensions/sd-webui-controlnet/annotator/downloads/openpose`` unless moved in its
    settings), Forge's ``models/ControlNetPreprocessor/openpose``, and A1111's
    ``models/openpose``.
    """
    found: list[Path] = []
    annotator_path = sys.modules.get("annotator.annotator_path")
    if annotator_path is not None and getattr(annotator_path, "models_path", None):
        found.append(Path(annotator_path.models_path) / "openpose")
    found += _controlnet_setting_dirs()
    forge_shared = sys.modules.get("modules_forge.shared")
    if forge_shared is not None and getattr(forge_shared, "preprocessor_dir", None):
        found.append(Path(forge_shared.preprocessor_dir) / "openpose")
    models = _a1111_models_path()
    if models is not None:
        found.append(models / "openpose")
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def download_dir() -> Optional[Path]:
    """Where our downloads go inside A1111: the first model folder (sd-webui-controlnet's own
    ``openpose`` downloads when it is installed), so that the built-in ``dw_openpose_full``
    and ours share the same two files instead of downloading them twice."""
    dirs = model_dirs()
    return dirs[0] if dirs else None


def _controlnet_setting_dirs() -> list[Path]:
    """sd-webui-controlnet's annotator folder from its setting, flag or default location."""
    dirs: list[Path] = []
    shared = sys.modules.get("modules.shared")
    configured = None
    if shared is not None:
        data = getattr(getattr(shared, "opts", None), "data", None)
        if isinstance(data, dict):
            configured = data.get("control_net_modules_path") or None
        if not configured:
            configured = getattr(getattr(shared, "cmd_opts", None), "controlnet_annotator_models_path", None)
    if configured:
        path = Path(configured)
        if not path.is_absolute():
            base = getattr(shared, "data_path", None) or os.getcwd()
            path = Path(base) / path
        dirs.append(path / "openpose")
    registry_module = sys.modules.get("scripts.supported_preprocessor")
    module_file = getattr(registry_module, "__file__", None)
    if module_file:
        # <extensions>/sd-webui-controlnet/scripts/supported_preprocessor.py
        dirs.append(Path(module_file).resolve().parents[1] / "annotator" / "downloads" / "openpose")
    return dirs


def _a1111_models_path() -> Optional[Path]:
    for name in ("modules.paths", "modules.paths_internal", "modules.shared"):
        module = sys.modules.get(name)
        value = getattr(module, "models_path", None) if module is not None else None
        if value:
            return Path(value)
    return None
