"""DWPose Editor: POSE_KEYPOINT in (optional IMAGE backdrop), the hand edits applied, POSE_KEYPOINT out.

The edits live in the ``edits`` widget (JSON written by web/editor/), so a saved workflow
re-applies them on every run and they follow the same frame, person and point when the
input changes (dwpose_core.editor.apply). Each run also hands the editor what it needs to open: the
input poses and the backdrop frames as files in ComfyUI's temp folder (served by its /view
route; a long clip never travels in the UI message) and the skeleton tables it draws with.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from .pose_nodes import export, read_frames
from .v3 import CATEGORY, SEARCH_ALIASES, PoseKeypoint, io, node_id, output, pose_input, ui

NAME = "DWPose Editor"
SUBFOLDER = "dwpose_editor"
BACKDROP_LONG_SIDE = 1280  # backdrop frames are stored at most this large (JPEG)


class DWPoseEditor(io.ComfyNode):
    """POSE_KEYPOINT in, the editor's edits applied, POSE_KEYPOINT out."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseEditor",
            display_name=NAME,
            category=CATEGORY,
            description=("Fix poses by hand: drag points, mark points or parts missing, add, delete or mirror people, "
                         "for one image or a whole clip (edits on key frames are interpolated). Run the workflow once, "
                         "then press 'Open pose editor'."),
            search_aliases=SEARCH_ALIASES + ["pose editor", "edit pose"],
            # ComfyUI resends this node's last UI output (the files the editor opens) when it serves the
            # node from its cache and after a page reload, as for output nodes, without making it one
            # (it still runs only on the way to a real output). The frontend also keeps the file
            # references in the node's properties (web/dwpose_editor.js).
            has_intermediate_output=True,
            inputs=[
                pose_input(),
                io.String.Input("edits", default="", multiline=False,
                                tooltip="The editor's edits (JSON, written by the pose editor; empty = "
                                        "none). 'Reset edits' clears them."),
                io.Image.Input("image", optional=True,
                               tooltip="Backdrop for the editor: the frames the poses were detected on."),
            ],
            outputs=[PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                         tooltip="The input poses with the edits applied.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, edits=None):
        if isinstance(edits, str) and edits.strip():
            from dwpose_core.editor.apply import EditError, parse_edits

            try:
                parse_edits(edits)
            except EditError as exc:
                return f"{NAME}: the stored edits cannot be read ({exc}); press 'Reset edits'."
        return True

    @classmethod
    def execute(cls, pose_keypoint, edits="", image=None):
        from dwpose_core.editor.tables import editor_tables
        from dwpose_core.editor.apply import EditError, apply_edits

        unique_id = node_id(cls)
        frames = read_frames(pose_keypoint, NAME)
        try:
            edited = apply_edits(frames, edits)
        except EditError as exc:
            raise ValueError(f"{NAME}: the stored edits cannot be read ({exc}); press 'Reset edits'.") from exc
        data = {
            "frames": len(frames),
            "width": int(frames[0].width),
            "height": int(frames[0].height),
            "poses": write_poses(frames, unique_id),
            "backdrops": write_backdrops(image, unique_id) if image is not None else [],
            "tables": editor_tables(),
        }
        data["tables_file"] = write_tables(data["tables"])  # so a reloaded workflow can reopen the editor
        return output(export(edited, pose_keypoint), ui_dict={"dwpose_editor": [data]})


def _temp_folder() -> str:
    import folder_paths

    folder = os.path.join(folder_paths.get_temp_directory(), SUBFOLDER)
    os.makedirs(folder, exist_ok=True)
    return folder


def _atomic_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def editor_poses(frames) -> dict:
    """The input poses as the editor reads them: per frame, per person its id and 133 x 3 numbers."""
    from dwpose_core.editor.apply import person_key

    out = []
    for frame in frames:
        people = []
        for i, person in enumerate(frame.people):
            kp = np.nan_to_num(np.asarray(person.keypoints, np.float64))
            sc = np.nan_to_num(np.asarray(person.scores, np.float64))
            flat = np.concatenate([np.round(kp, 3), np.round(sc[:, None], 4)], axis=1).ravel().tolist()
            people.append({"id": person_key(person, i), "k": flat,
                           "box": [round(float(v), 2) for v in np.nan_to_num(person.box)]})
        out.append({"w": int(frame.width), "h": int(frame.height), "people": people})
    return {"version": 1, "frames": out}


def write_poses(frames, unique_id) -> dict:
    data = json.dumps(editor_poses(frames), separators=(",", ":")).encode("utf-8")
    name = f"poses_{_safe(unique_id)}_{hashlib.sha1(data).hexdigest()[:16]}.json"
    path = os.path.join(_temp_folder(), name)
    if not os.path.exists(path):
        _atomic_write(path, data)
    return _temp_ref(name)


def _temp_ref(name: str):
    """A file in our temp subfolder as the frontend fetches it through /view (core's ui.SavedResult)."""
    return ui.SavedResult(name, SUBFOLDER, io.FolderType.temp)


def write_tables(tables) -> dict:
    """The skeleton tables as a temp file too: the workflow keeps only file references."""
    data = json.dumps(tables, separators=(",", ":")).encode("utf-8")
    name = f"tables_{hashlib.sha1(data).hexdigest()[:16]}.json"
    path = os.path.join(_temp_folder(), name)
    if not os.path.exists(path):
        _atomic_write(path, data)
    return _temp_ref(name)


def write_backdrops(image, unique_id) -> list:
    """Every frame of the IMAGE batch as a JPEG in the temp folder (downscaled when large)."""
    import cv2

    from .convert import image_batch_to_frames

    refs = []
    pictures = image_batch_to_frames(image, NAME)
    digest = hashlib.sha1()
    for picture in pictures[:: max(1, len(pictures) // 16)]:
        digest.update(np.ascontiguousarray(picture[::8, ::8]).tobytes())
    stem = f"backdrop_{_safe(unique_id)}_{digest.hexdigest()[:12]}_{len(pictures)}"
    for i, picture in enumerate(pictures):
        name = f"{stem}_{i:05d}.jpg"
        path = os.path.join(_temp_folder(), name)
        if not os.path.exists(path):
            h, w = picture.shape[:2]
            k = min(1.0, BACKDROP_LONG_SIDE / max(h, w))
            if k < 1.0:
                picture = cv2.resize(picture, (max(1, round(w * k)), max(1, round(h * k))),
                                     interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", picture[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
            if not ok:
                raise ValueError(f"{NAME}: could not encode backdrop frame {i}")
            _atomic_write(path, encoded.tobytes())
        refs.append(_temp_ref(name))
    return refs


def _safe(value) -> str:
    return "".join(c for c in str(value if value is not None else "x") if c.isalnum())[:24] or "x"
