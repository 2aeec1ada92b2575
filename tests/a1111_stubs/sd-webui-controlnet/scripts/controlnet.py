"""Stand-in for the extension's main script: imports its own modules as ``scripts.*``
(possible only while its folder is on sys.path), which registers the built-ins."""
from annotator.annotator_path import models_path  # noqa: F401  (prints nothing here)
from scripts.supported_preprocessor import Preprocessor  # noqa: F401
import scripts.preprocessor  # noqa: F401
import scripts.api  # noqa: F401
