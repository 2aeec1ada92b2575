"""Torch-free readers of model files: the one restricted pickle reader of ``.pth`` checkpoints
(:mod:`.safe_pickle`, its policy :mod:`.pickle_policy`, inert tensors :mod:`.lazy_tensors`, tensors
read from the archive :mod:`.pth_reader`) and each ONNX file parsed once (:mod:`.onnx_file`)."""
