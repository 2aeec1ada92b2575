"""Stand-in for ``modules.script_callbacks``: callbacks are kept per kind and cleared
whenever scripts are (re)loaded; a failing callback is reported, not raised."""
import traceback

callback_map = {
    "callbacks_before_ui": [],
    "callbacks_app_started": [],
}
reported_errors = []


def clear_callbacks():
    for callbacks in callback_map.values():
        callbacks.clear()


def on_before_ui(callback):
    callback_map["callbacks_before_ui"].append(callback)


def on_app_started(callback):
    callback_map["callbacks_app_started"].append(callback)


def before_ui_callback():
    for callback in list(callback_map["callbacks_before_ui"]):
        try:
            callback()
        except Exception:
            reported_errors.append(traceback.format_exc())
            print(f"*** Error executing callback {callback} for before_ui")
