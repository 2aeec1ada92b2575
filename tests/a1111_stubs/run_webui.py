"""Start a fake A1111 in this (fresh) interpreter and report what happened as JSON.

Usage: python run_webui.py SPEC.json. SPEC keys:
  webui_roots     folders put first on sys.path (the webui stand-in, optionally Forge's)
  forge           true: import Forge's registry before extensions load, as Forge does
  extensions_dirs folders whose sub-folders are extensions
  reloads         how many times to simulate "Reload UI" after start-up
  detect          optional {"module", "image" (.npy path), "resolution", "out_dir"}
  out             where to write the JSON report

Like A1111, the interpreter's path holds the webui root and site-packages but not the
extension folders (nor this test tree); extension scripts see their own folder only
while they load.
"""
import json
import os
import sys


def main(spec_path):
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    sys.path[0:0] = spec["webui_roots"]
    path_before = list(sys.path)

    import modules.devices  # noqa: F401  (A1111 imports these before any extension script)
    import modules.paths  # noqa: F401
    import modules.script_callbacks as script_callbacks
    import modules.scripts as scripts
    import modules.shared  # noqa: F401

    if spec.get("forge"):
        import modules_forge.shared  # noqa: F401
        import modules_forge.supported_preprocessor  # noqa: F401

    report = {"snapshots": []}

    def snapshot(phase):
        state = {"phase": phase}
        registry = sys.modules.get("scripts.supported_preprocessor")
        if registry is not None:
            base = registry.Preprocessor
            state["controlnet_labels"] = sorted(base.all_processors)
            state["controlnet_names"] = sorted(base.all_processors_by_name)
            state["openpose_dropdown"] = [p.label for p in base.get_filtered_preprocessors("OpenPose")]
            state["entries"] = {
                p.name: {"label": p.label, "tags": list(p.tags), "class": type(p).__name__}
                for p in base.all_processors_by_name.values()
            }
        forge_shared = sys.modules.get("modules_forge.shared")
        if forge_shared is not None:
            state["forge_entries"] = {
                name: {"tags": list(p.tags), "class": type(p).__name__,
                       "filters": list(getattr(p, "model_filename_filters", []))}
                for name, p in forge_shared.supported_preprocessors.items()
            }
        state["before_ui_callbacks"] = len(script_callbacks.callback_map["callbacks_before_ui"])
        report["snapshots"].append(state)

    for attempt in range(1 + int(spec.get("reloads", 0))):
        label = "start" if attempt == 0 else f"reload{attempt}"
        scripts.load_scripts(spec["extensions_dirs"])
        snapshot(f"{label}:loaded")
        script_callbacks.before_ui_callback()
        snapshot(f"{label}:before_ui")

    report["load_errors"] = [err for _, err in scripts.load_errors]
    report["callback_errors"] = list(script_callbacks.reported_errors)
    report["sys_path_restored"] = sys.path == path_before
    report["heavy_modules"] = sorted(name for name in ("torch", "onnxruntime", "cv2") if name in sys.modules)
    report["extension_modules"] = sorted(
        name for name in sys.modules if name.split(".")[0] in ("a1111_dwpose", "dwpose_core", "scripts"))

    detect = spec.get("detect")
    if detect:
        import numpy as np

        api = sys.modules["scripts.api"]
        image = np.load(detect["image"])
        response = api.detect(detect["module"], [image], controlnet_processor_res=detect.get("resolution", -1))
        for i, img in enumerate(response["images"]):
            np.save(os.path.join(detect["out_dir"], f"image{i}.npy"), np.asarray(img))
        report["detect"] = {"info": response["info"], "poses": response.get("poses"),
                            "n_images": len(response["images"])}
        # before the next generation ControlNet unloads every preprocessor that is not active
        base = sys.modules["scripts.supported_preprocessor"].Preprocessor
        base.unload_unused(set())
        report["unload_unused_ok"] = True

    with open(spec["out"], "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
