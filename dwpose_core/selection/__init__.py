"""Which people are kept, in one folder: per-frame rules (:mod:`.modes`: all, largest, most
confident, top k), whole tracks across a clip (:mod:`.tracks`) and choosing people and parts after
the fact by index or track id (:mod:`.people`)."""
