"""Stand-in for ``modules.paths``: the webui root and its ``models`` folder."""
import os

script_path = os.environ.get("STUB_WEBUI_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data_path = os.environ.get("STUB_WEBUI_DATA", script_path)
models_path = os.path.join(data_path, "models")
