"""Helpers for pose-driven video models: retargeting a clip to a reference character
(:mod:`.retarget`, with its bone maths in :mod:`.retarget_math`) and face crops (:mod:`.face_crops`)."""
