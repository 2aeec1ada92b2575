"""Model file suffixes, by what reads them (one list for the hub, the backends and the loaders)."""

ONNX_SUFFIXES = (".onnx",)
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")  # torch training checkpoints (zip pickles)
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_ONLY_SUFFIXES = CHECKPOINT_SUFFIXES + SAFETENSORS_SUFFIXES  # only the torch backend reads these
MODEL_SUFFIXES = ONNX_SUFFIXES + TORCH_ONLY_SUFFIXES
