"""AUTOMATIC1111 / Forge: add the DWPose preprocessors to ControlNet's dropdown.

A1111 executes every top-level ``.py`` in an extension's ``scripts/`` by file path,
with the extension folder first on ``sys.path`` only while the file runs. The logic
lives in the top-level package ``a1111_dwpose`` (a name that cannot collide with
ControlNet's own ``scripts.*`` modules), imported here from this extension's folder.
Outside A1111 (no ``modules.script_callbacks`` loaded) this file does nothing.
"""
import os
import sys


def _setup_dwpose_preprocessors() -> None:
    if "modules.script_callbacks" not in sys.modules:
        return  # not running inside A1111/Forge
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        import a1111_dwpose
        import dwpose_core  # pin our core package while our folder is importable
    except Exception as exc:
        print(f"[DWPose] the extension could not be loaded ({exc!r}); the DWPose preprocessors are "
              "not available. Reinstall the extension or check its requirements.")
        return
    finally:
        if added:
            sys.path.remove(root)
    core_root = os.path.dirname(os.path.dirname(os.path.realpath(dwpose_core.__file__)))
    if os.path.normcase(core_root) != os.path.normcase(os.path.realpath(root)):
        print(f"[DWPose] another extension's 'dwpose_core' ({core_root}) shadows this one's; "
              "the DWPose preprocessors may misbehave. Remove one of the two extensions.")
    a1111_dwpose.setup(root)


_setup_dwpose_preprocessors()
