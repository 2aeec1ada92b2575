"""Stand-in for ControlNet's annotator model folder: its setting, else ``annotator/downloads``."""
import os

from modules import shared

models_path = shared.opts.data.get("control_net_modules_path") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "downloads")
