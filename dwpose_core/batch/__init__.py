"""The resumable ``batch`` command: which inputs (:mod:`.inputs`), the run (:mod:`.run`), its
journal and summary (:mod:`.journal`) and the same work on Ray Data (:mod:`.ray_data`)."""
