"""The pose editor's data: its edit document (:mod:`.document`), applying edits to POSE_KEYPOINT
(:mod:`.apply`) and the tables the browser editor reads (:mod:`.tables`)."""
