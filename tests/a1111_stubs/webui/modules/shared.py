"""Stand-in for ``modules.shared``: settings (``opts.data``), command-line flags and paths."""
import types

from modules import paths

opts = types.SimpleNamespace(data={})
cmd_opts = types.SimpleNamespace()
data_path = paths.data_path
models_path = paths.models_path
