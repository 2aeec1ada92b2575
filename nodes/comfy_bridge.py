"""Everything the nodes need from ComfyUI itself, in one place.

The rest of ``nodes/`` talks to ComfyUI only through these functions, so the
adapters stay thin and the tests can swap ComfyUI for small stand-ins.
ComfyUI modules are imported inside the functions: this module is imported
when ComfyUI starts and must stay cheap.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Optional

from dwpose_core.hub.registry import MODEL_SUFFIXES

log = logging.getLogger("dwpose")

FOLDER_NAME = "dwpose"  # models/dwpose, and the key for extra_model_paths.yaml
MODEL_EXTENSIONS = set(MODEL_SUFFIXES)
# Files the core derives from a model (the torch backend's fused-weights cache): not models to pick.
DERIVED_SUFFIXES = (".fused.safetensors",)


# --- model folders ---------------------------------------------------------------------------

def register_model_folder() -> str:
    """Register ``models/dwpose`` with ComfyUI and hand its folders to the hub; returns models/dwpose.

    extra_model_paths.yaml is read before custom nodes load, so a ``dwpose:``
    entry there may already exist: keep its folders and add ours after them,
    with the model extensions. The hub asks for the folders at every lookup,
    so later changes count. Downloads go to models/dwpose (it survives
    reinstalling the pack).
    """
    import folder_paths

    default = os.path.join(folder_paths.models_dir, FOLDER_NAME)
    entry = folder_paths.folder_names_and_paths.get(FOLDER_NAME)
    if entry is None:
        folder_paths.folder_names_and_paths[FOLDER_NAME] = ([default], set(MODEL_EXTENSIONS))
    else:
        paths, exts = entry
        if default not in paths:
            paths.append(default)
        folder_paths.folder_names_and_paths[FOLDER_NAME] = (paths, set(exts) | MODEL_EXTENSIONS)
    _register_with_hub(default)
    return default


def model_folders() -> list[str]:
    import folder_paths

    return folder_paths.get_folder_paths(FOLDER_NAME)


def folder_files() -> list[str]:
    """Model files in the dwpose folders, relative to their folder (forward slashes)."""
    import folder_paths

    try:
        names = folder_paths.get_filename_list(FOLDER_NAME)
    except KeyError:
        return []
    return [n.replace(os.sep, "/") for n in names
            if os.path.splitext(n)[1].lower() in MODEL_EXTENSIONS and not n.endswith(DERIVED_SUFFIXES)]


def full_path(name: str) -> Optional[str]:
    """Absolute path of a file listed by :func:`folder_files`, or None."""
    import folder_paths

    try:
        return folder_paths.get_full_path(FOLDER_NAME, name)
    except KeyError:
        return None


def _register_with_hub(default: str) -> None:
    from pathlib import Path

    from dwpose_core import hub

    hub.register_host_dirs(lambda: [Path(p) for p in model_folders()], lambda: Path(default), name="comfyui")


# --- devices, progress, interrupts -----------------------------------------------------------

def torch_device() -> str:
    """ComfyUI's torch device as a string ("cuda:0", "mps", "cpu", ...)."""
    import comfy.model_management as mm

    return str(mm.get_torch_device())


def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception if the user pressed Cancel."""
    import comfy.model_management as mm

    mm.throw_exception_if_processing_interrupted()


class Progress:
    """ComfyUI progress bar in frames; its callback also honours interrupts.

    Pass ``progress.callback`` to the core: it runs after every chunk, so a
    cancel stops the work between chunks.
    """

    def __init__(self, total: int, node_id: Optional[str] = None):
        import comfy.utils

        self.total = max(int(total), 1)
        try:
            self.bar = comfy.utils.ProgressBar(self.total, node_id=node_id)
        except TypeError:  # older ComfyUI: no node_id
            self.bar = comfy.utils.ProgressBar(self.total)

    def callback(self, done: int, total: int) -> None:
        self.bar.update_absolute(int(done), int(total))
        check_interrupt()


# --- downloads ------------------------------------------------------------------------------

def show_download_progress() -> None:
    """Model downloads report to ComfyUI's progress bar (the node's bar in the UI) instead of tqdm;
    ComfyUI's hook raises on Cancel, which stops the download and keeps nothing partial."""
    import comfy.utils

    from dwpose_core.hub.download import set_progress_factory

    set_progress_factory(lambda total, label: comfy.utils.ProgressBar(total or 0))


# --- memory ----------------------------------------------------------------------------------

def on_unload_models(callback: Callable[[], None], key: str = "dwpose") -> None:
    """Run ``callback`` whenever ComfyUI unloads all models.

    ComfyUI calls ``comfy.model_management.unload_all_models`` for the
    "Unload models" / "Free model and node cache" buttons (POST /free), after an
    out-of-memory error and with --disable-smart-memory. Our models are ONNX
    Runtime sessions or plain torch modules, not ModelPatchers, so we chain onto
    that function (once per process) to free them at the same moments. The
    callbacks live on ComfyUI's module, so importing this pack twice still
    chains once and keeps one callback per ``key``.
    """
    import comfy.model_management as mm

    callbacks = mm.__dict__.setdefault("_dwpose_unload_callbacks", {})
    callbacks[key] = callback
    if getattr(mm.unload_all_models, "_dwpose_chained", False):
        return
    original = mm.unload_all_models

    def unload_all_models(*args, **kwargs):
        result = original(*args, **kwargs)
        for cb in list(callbacks.values()):
            try:
                cb()
            except Exception:  # freeing memory must never break ComfyUI's own unload
                log.exception("DWPose: releasing models failed")
        return result

    unload_all_models._dwpose_chained = True
    unload_all_models.__wrapped__ = original
    mm.unload_all_models = unload_all_models


_patchers = None  # WeakKeyDictionary: InferenceModel -> ModelPatcher, created lazily


def manage_torch_models(models) -> bool:
    """Hand torch-backend networks to ComfyUI's model management before a run.

    As ComfyUI's own upscale-model nodes do with a plain ``nn.Module``: wrap it
    in a ``ModelPatcher`` and ``load_models_gpu(..., force_full_load=True)``.
    ComfyUI then counts its memory, may offload it to make room for other
    models (our torch backend moves it back on the next run), and unloads it
    with everything else. ONNX Runtime sessions are not torch modules and are
    freed through :func:`on_unload_models` instead. Returns True when any
    model was handed over.
    """
    global _patchers
    import weakref

    nets = [(m, getattr(m, "net", None), getattr(m, "device", None)) for m in models]
    nets = [(m, net, dev) for m, net, dev in nets if net is not None and dev is not None and hasattr(net, "parameters")]
    if not nets:
        return False
    import comfy.model_management as mm
    import comfy.model_patcher

    if _patchers is None:
        _patchers = weakref.WeakKeyDictionary()
    patchers = []
    for model, net, device in nets:
        patcher = _patchers.get(model)
        if patcher is None or patcher.model is not net:
            patcher = comfy.model_patcher.ModelPatcher(net, load_device=device,
                                                       offload_device=mm.unet_offload_device())
            _patchers[model] = patcher
        patchers.append(patcher)
    mm.load_models_gpu(patchers, force_full_load=True)
    return True


def forget_torch_models() -> None:
    """Drop our ModelPatchers (after the models were released)."""
    if _patchers is not None:
        _patchers.clear()


def make_room(device: str, nbytes: int) -> None:
    """Ask ComfyUI to unload its own models until ``nbytes`` fit on ``device`` (GPU only)."""
    if not device or device.startswith("cpu") or nbytes <= 0:
        return
    import comfy.model_management as mm
    import torch

    mm.free_memory(nbytes, torch.device(device))


def soft_empty_cache() -> None:
    import comfy.model_management as mm

    mm.soft_empty_cache()


# --- files -----------------------------------------------------------------------------------

def output_directory() -> str:
    import folder_paths

    return folder_paths.get_output_directory()


def input_directory() -> str:
    import folder_paths

    return folder_paths.get_input_directory()


def save_path(filename_prefix: str) -> tuple[str, str, int, str]:
    """(folder, file name stem, counter, subfolder) for a new file in the output folder."""
    import folder_paths

    folder, filename, counter, subfolder, _prefix = folder_paths.get_save_image_path(
        filename_prefix, folder_paths.get_output_directory())
    return folder, filename, counter, subfolder


_ANNOTATIONS = (("[output]", "output"), ("[input]", "input"), ("[temp]", "temp"))


def _base_folder(name: str) -> tuple[str, str]:
    """(name without ComfyUI's " [output]" / " [input]" / " [temp]" annotation, that folder)."""
    import folder_paths

    folders = {"output": folder_paths.get_output_directory, "input": folder_paths.get_input_directory,
               "temp": folder_paths.get_temp_directory}
    for suffix, kind in _ANNOTATIONS:
        if name.endswith(suffix):
            return name[:-len(suffix)].rstrip(" "), folders[kind]()
    return name, folders["input"]()


def contained_path(base: str, name: str) -> str:
    """``base``/``name`` resolved (``..`` and symlinks followed); ValueError unless it stays inside ``base``.

    An absolute name, a drive, a NUL byte, or a link that leads out of the folder are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("no file name given")
    if "\x00" in name:
        raise ValueError("the name contains a NUL byte")
    if os.path.isabs(name) or os.path.splitdrive(name)[0]:
        raise ValueError("an absolute path is not a name inside the folder")
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    try:
        inside = os.path.commonpath([root, path]) == root
    except ValueError:  # different drives
        inside = False
    if not inside or path == root:
        raise ValueError("it leads outside the folder")
    return path


def input_file_path(name: str) -> str:
    """Absolute path of a file chosen from the input folder (``name [output]`` annotations work,
    each inside its own folder); ValueError for a name that leads outside it, symlinks included."""
    import folder_paths

    bare, base = _base_folder(name if isinstance(name, str) else "")
    path = contained_path(base, bare)
    folder_paths.get_annotated_filepath(name)  # ComfyUI's own check too (it raises ValueError)
    return path


def output_prefix_path(filename_prefix: str) -> str:
    """The folder a save prefix writes into; ValueError when it leads outside the output folder
    (``..``, an absolute path, or a symlinked subfolder pointing elsewhere)."""
    import folder_paths

    prefix = filename_prefix if isinstance(filename_prefix, str) else ""
    if not prefix.strip():
        raise ValueError("no file name prefix given")
    return contained_path(folder_paths.get_output_directory(), os.path.normpath(prefix))
