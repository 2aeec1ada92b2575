"""Stand-in for Forge's preprocessor registry: one dict keyed by name; adding a name that
exists replaces it (no asserts); annotator models live in ``preprocessor_dir``."""
import os

from modules import paths

preprocessor_dir = os.path.join(paths.models_path, "ControlNetPreprocessor")
supported_preprocessors = {}


def add_supported_preprocessor(preprocessor):
    supported_preprocessors[preprocessor.name] = preprocessor
