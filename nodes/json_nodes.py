"""Save POSE_KEYPOINT into ComfyUI's output folder; load it from the input folder."""
from __future__ import annotations

import hashlib
import os

from . import comfy_bridge
from .pose_nodes import CATEGORY, POSE_INPUT, read_frames
from .summary import summarise, ui_output


def json_files() -> list[str]:
    """.json files under the input folder, as relative paths with forward slashes."""
    root = comfy_bridge.input_directory()
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".json"):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(found)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DWPoseSaveJSON:
    DESCRIPTION = ("Saves POSE_KEYPOINT as OpenPose-style JSON in ComfyUI's output folder (readable by "
                   "OpenPose editors, sd-webui-controlnet and DWPose Load JSON, with all 133 keypoints kept).")
    CATEGORY = CATEGORY
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": POSE_INPUT,
                "filename_prefix": ("STRING", {"default": "dwpose/poses",
                                               "tooltip": "File name prefix inside the output folder; may contain "
                                                          "subfolders and %date% style variables like Save Image."}),
                "one_file_per_frame": ("BOOLEAN", {"default": False,
                                                   "tooltip": "Off: one JSON file with a list of frames. On: one "
                                                              "file per frame (as OpenPose writes them)."}),
            },
        }

    def save(self, pose_keypoint, filename_prefix="dwpose/poses", one_file_per_frame=False):
        from dwpose_core.formats.pose_json import save_json

        frames = read_frames(pose_keypoint, "DWPose Save JSON")
        if isinstance(pose_keypoint, dict):
            data = [pose_keypoint]
        elif isinstance(pose_keypoint, (list, tuple)):
            data = list(pose_keypoint)  # saved as received: nothing another node added is lost
        else:  # JSON text
            from dwpose_core.formats.pose_json import to_pose_keypoint

            data = to_pose_keypoint(frames)
        folder, name, counter, subfolder = comfy_bridge.save_path(filename_prefix)
        if one_file_per_frame:
            files = [f"{name}_{counter:05}_{i:05}.json" for i in range(len(data))]
            for file, frame in zip(files, data):
                save_json(os.path.join(folder, file), frame)
        else:
            files = [f"{name}_{counter:05}_.json"]
            save_json(os.path.join(folder, files[0]), data)
        ui = ui_output(summarise(frames))
        ui["files"] = [{"filename": f, "subfolder": subfolder, "type": "output"} for f in files]
        return {"ui": ui}


class DWPoseLoadJSON:
    DESCRIPTION = ("Loads POSE_KEYPOINT / OpenPose JSON from ComfyUI's input folder (one frame or a list of "
                   "frames). Re-runs only when the file's content changes.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT",)
    RETURN_NAMES = ("pose_keypoint",)
    OUTPUT_TOOLTIPS = ("The poses of every frame in the file.",)
    FUNCTION = "load"
    # The preview is UI output: resent when ComfyUI serves this node from its cache.
    HAS_INTERMEDIATE_OUTPUT = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "json_file": (json_files(), {"tooltip": "A .json file in ComfyUI's input folder (subfolders "
                                                        "included). Refresh the page after adding files."}),
            },
            "optional": {
                "canvas_width": ("INT", {"default": 0, "min": 0, "max": 16384,
                                         "tooltip": "Image width for files that store no canvas size (plain "
                                                    "OpenPose output); 0 = take it from the file."}),
                "canvas_height": ("INT", {"default": 0, "min": 0, "max": 16384,
                                          "tooltip": "Image height for files that store no canvas size; "
                                                     "0 = take it from the file."}),
            },
        }

    @classmethod
    def IS_CHANGED(cls, json_file, **_kwargs):
        try:
            return file_sha256(comfy_bridge.input_file_path(json_file))
        except (OSError, ValueError):
            return ""  # VALIDATE_INPUTS reports the problem

    @classmethod
    def VALIDATE_INPUTS(cls, json_file, **_kwargs):
        try:
            path = comfy_bridge.input_file_path(json_file)
        except ValueError as exc:
            return str(exc)
        if not os.path.isfile(path):
            return f"DWPose Load JSON: {json_file!r} is not a file in the input folder."
        return True

    def load(self, json_file, canvas_width=0, canvas_height=0):
        from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint, load_json

        path = comfy_bridge.input_file_path(json_file)
        canvas = (int(canvas_width), int(canvas_height)) if canvas_width and canvas_height else None
        try:
            data = load_json(path, canvas_size=canvas)
        except FormatError as exc:
            raise ValueError(f"DWPose Load JSON: {exc}") from exc
        frames = from_pose_keypoint(data)
        if not frames:
            raise ValueError(f"DWPose Load JSON: {json_file} holds no frames.")
        from .pose_nodes import export

        return {"ui": ui_output(summarise(frames)), "result": (export(frames, data),)}
