"""Stand-in for how ``modules.scripts.load_scripts`` runs extension scripts.

- callbacks are cleared first (this is also what "Reload UI" does);
- extension folders are visited in plain string order of their names, and each
  top-level ``scripts/*.py`` of a folder in sorted order;
- a file is executed by path, as a module named after its file name, that is not
  placed in ``sys.modules``;
- while it runs, ``sys.path`` is a new list with the extension folder in front; the
  original list object is put back afterwards, so additions made by a script are lost;
- an exception is reported and loading goes on.
"""
import importlib.util
import os
import sys
import traceback

from modules import script_callbacks

load_errors = []
loaded_files = []


def list_scripts(extensions_dirs):
    found = []
    for extensions_dir in extensions_dirs:
        if not os.path.isdir(extensions_dir):
            continue
        for name in sorted(os.listdir(extensions_dir)):
            ext = os.path.join(extensions_dir, name)
            scripts_dir = os.path.join(ext, "scripts")
            if not os.path.isdir(scripts_dir):
                continue
            for filename in sorted(os.listdir(scripts_dir)):
                path = os.path.join(scripts_dir, filename)
                if filename.endswith(".py") and os.path.isfile(path):
                    found.append((ext, path))
    return found


def load_module(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_scripts(extensions_dirs):
    script_callbacks.clear_callbacks()
    syspath = sys.path
    for basedir, path in list_scripts(extensions_dirs):
        try:
            sys.path = [basedir] + sys.path
            load_module(path)
            loaded_files.append(path)
        except Exception:
            load_errors.append((path, traceback.format_exc()))
            print(f"*** Error loading script: {os.path.basename(path)}")
        finally:
            sys.path = syspath
