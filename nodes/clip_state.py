"""Video state kept per node between runs, for one clip processed in consecutive batches.

ComfyUI runs a node once per prompt, so a long clip that a loader hands out in
chunks (VHS Load Video with a Meta Batch Manager, a loop queueing prompts)
reaches the node as several runs. Every run leaves its end state here, under
the node's id and a key of what must stay the same within one clip (frame
size, models). With ``continue_clip`` on, the next run starts from that state;
off, or when the key differs, it starts fresh (and becomes the new clip's start).
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")


class ClipStates:
    """slot (node kind + node id) -> (key, state)."""

    def __init__(self):
        self._entries: dict[str, tuple[Hashable, Any]] = {}
        self._lock = threading.Lock()

    def start(self, slot: str, key: Hashable, fresh: Callable[[], T], continue_clip: bool) -> T:
        """The state a run starts from: the slot's last state when continuing the same clip, else ``fresh()``."""
        with self._lock:
            entry = self._entries.get(slot)
        if continue_clip and entry is not None and entry[0] == key:
            # A copy: the core mutates the state as it goes, and an interrupted run
            # must leave the stored one as it was, so that re-running continues correctly.
            return copy.deepcopy(entry[1])
        return fresh()

    def finish(self, slot: str, key: Hashable, state: Any) -> None:
        """Keep a finished run's end state for the slot's next run."""
        with self._lock:
            self._entries[slot] = (key, state)

    def forget(self, slot: str) -> None:
        with self._lock:
            self._entries.pop(slot, None)

    def __len__(self) -> int:
        return len(self._entries)


STATES = ClipStates()


def is_changed(continue_clip) -> Any:
    """fingerprint_inputs value: NaN (never equal to itself) makes ComfyUI run a continued node every time,
    since its result depends on the previous run and not only on its inputs. A linked
    continue_clip reaches fingerprint_inputs as None: assume it may be on."""
    if continue_clip is None or bool(continue_clip):
        return float("nan")
    return False


TIP_ESTIMATOR = ("For a long clip processed in consecutive batches (e.g. Load Video with a Meta Batch Manager): "
                 "continue from this node's previous run, keeping track ids, smoothing context and the "
                 "detect_every schedule. Off: this run starts a new clip. Starts afresh by itself when the "
                 "frame size or the models change.")
TIP_SMOOTH = ("For a long clip processed in consecutive batches: continue from this node's previous run, "
              "keeping track ids and smoothing context, so the batches join without a seam. Off: this run "
              "starts a new clip. Starts afresh by itself when the canvas size changes. Poses that carry "
              "track ids keep them: turn continue_clip on in the DWPose Estimator that made them too.")
