"""Save POSE_KEYPOINT into ComfyUI's output folder; load it from the input folder."""
from __future__ import annotations

import hashlib
import os

from . import comfy_bridge
from .pose_nodes import read_frames
from .summary import summarise, ui_output
from .v3 import CATEGORY, SEARCH_ALIASES, PoseKeypoint, io, output, pose_input, ui


def json_files() -> list[str]:
    """.json files under the input folder, as relative paths with forward slashes.

    A file or folder reached through a symlink that leads out of the input folder is not listed
    (Load JSON would refuse it)."""
    root = comfy_bridge.input_directory()
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".json"):
                relative = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                try:
                    comfy_bridge.input_file_path(relative)
                except ValueError:
                    continue
                found.append(relative)
    return sorted(found)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refusal(exc: ValueError, node: str, name) -> str:
    return f"{node}: {name!r} is not a file name inside ComfyUI's input folder ({exc})."


class DWPoseSaveJSON(io.ComfyNode):
    """POSE_KEYPOINT -> JSON file(s) in the output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseSaveJSON",
            display_name="DWPose Save JSON",
            category=CATEGORY,
            description=("Saves POSE_KEYPOINT as OpenPose-style JSON in ComfyUI's output folder (readable by "
                         "OpenPose editors, sd-webui-controlnet and DWPose Load JSON, with all 133 keypoints kept)."),
            search_aliases=SEARCH_ALIASES,
            is_output_node=True,
            inputs=[
                pose_input(),
                io.String.Input("filename_prefix", default="dwpose/poses",
                                tooltip="File name prefix inside the output folder; may contain "
                                        "subfolders and %date% style variables like Save Image."),
                io.Boolean.Input("one_file_per_frame", default=False,
                                 tooltip="Off: one JSON file with a list of frames. On: one "
                                         "file per frame (as OpenPose writes them)."),
            ],
            outputs=[],
        )

    @classmethod
    def validate_inputs(cls, filename_prefix=None):
        if isinstance(filename_prefix, str):
            try:
                comfy_bridge.output_prefix_path(filename_prefix)
            except ValueError as exc:
                return f"DWPose Save JSON: {filename_prefix!r} would write outside ComfyUI's output folder ({exc})."
        return True

    @classmethod
    def execute(cls, pose_keypoint, filename_prefix="dwpose/poses", one_file_per_frame=False):
        from dwpose_core.formats.pose_json import save_json

        frames = read_frames(pose_keypoint, "DWPose Save JSON")
        if isinstance(pose_keypoint, dict):
            data = [pose_keypoint]
        elif isinstance(pose_keypoint, (list, tuple)):
            data = list(pose_keypoint)  # saved as received: nothing another node added is lost
        else:  # JSON text
            from dwpose_core.formats.pose_json import to_pose_keypoint

            data = to_pose_keypoint(frames)
        comfy_bridge.output_prefix_path(filename_prefix)  # refuses a prefix that leaves the output folder
        folder, name, counter, subfolder = comfy_bridge.save_path(filename_prefix)
        if one_file_per_frame:
            files = [f"{name}_{counter:05}_{i:05}.json" for i in range(len(data))]
            for file, frame in zip(files, data):
                save_json(os.path.join(folder, file), frame)
        else:
            files = [f"{name}_{counter:05}_.json"]
            save_json(os.path.join(folder, files[0]), data)
        ui_dict = ui_output(summarise(frames))
        ui_dict["files"] = [ui.SavedResult(f, subfolder, io.FolderType.output) for f in files]
        return output(ui_dict=ui_dict)


class DWPoseLoadJSON(io.ComfyNode):
    """A JSON file of the input folder -> POSE_KEYPOINT."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseLoadJSON",
            display_name="DWPose Load JSON",
            category=CATEGORY,
            description=("Loads POSE_KEYPOINT / OpenPose JSON from ComfyUI's input folder (one frame or a list of "
                         "frames). Re-runs only when the file's content changes."),
            search_aliases=SEARCH_ALIASES,
            # The preview is UI output: resent when ComfyUI serves this node from its cache.
            has_intermediate_output=True,
            inputs=[
                io.Combo.Input("json_file", options=json_files(),
                               tooltip="A .json file in ComfyUI's input folder (subfolders "
                                       "included). Refresh the page after adding files."),
                io.Int.Input("canvas_width", default=0, min=0, max=16384, optional=True,
                             tooltip="Image width for files that store no canvas size (plain "
                                     "OpenPose output); 0 = take it from the file."),
                io.Int.Input("canvas_height", default=0, min=0, max=16384, optional=True,
                             tooltip="Image height for files that store no canvas size; "
                                     "0 = take it from the file."),
            ],
            outputs=[PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                         tooltip="The poses of every frame in the file.")],
        )

    @classmethod
    def fingerprint_inputs(cls, json_file=None, **_kwargs):
        try:
            return file_sha256(comfy_bridge.input_file_path(json_file))
        except (OSError, ValueError, TypeError):
            return ""  # validate_inputs reports the problem

    @classmethod
    def validate_inputs(cls, json_file=None):
        # Taking json_file here replaces ComfyUI's "value not in list" check for it: a file in a
        # subfolder or added since the list was made is fine, a name leaving the folder is not.
        if json_file is None:
            return True  # linked: checked when it runs
        try:
            path = comfy_bridge.input_file_path(json_file)
        except ValueError as exc:
            return _refusal(exc, "DWPose Load JSON", json_file)
        if not os.path.isfile(path):
            return f"DWPose Load JSON: {json_file!r} is not a file in the input folder."
        return True

    @classmethod
    def execute(cls, json_file, canvas_width=0, canvas_height=0):
        from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint, load_json

        try:
            path = comfy_bridge.input_file_path(json_file)
        except ValueError as exc:
            raise ValueError(_refusal(exc, "DWPose Load JSON", json_file)) from None
        canvas = (int(canvas_width), int(canvas_height)) if canvas_width and canvas_height else None
        try:
            data = load_json(path, canvas_size=canvas)
        except FormatError as exc:
            raise ValueError(f"DWPose Load JSON: {exc}") from exc
        frames = from_pose_keypoint(data)
        if not frames:
            raise ValueError(f"DWPose Load JSON: {json_file} holds no frames.")
        from .pose_nodes import export

        return output(export(frames, data), ui_dict=ui_output(summarise(frames)))
