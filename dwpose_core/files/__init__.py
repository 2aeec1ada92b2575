"""Files in and out: image normalisation and non-ASCII-safe I/O (:mod:`.images`), which inputs a
run takes (:mod:`.inputs`), frames read ahead in chunks (:mod:`.frame_source`) and atomic writers
(:mod:`.outputs`)."""
