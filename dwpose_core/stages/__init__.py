"""The two model stages, each read top to bottom in one module: pre-processing, the model call,
post-processing. :mod:`.detection` (person boxes) and :mod:`.pose` (133 keypoints per box)."""
