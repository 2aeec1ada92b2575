"""Stand-in for ``modules.devices``: the device A1111 assigns per task (a string here;
A1111 returns a ``torch.device``, whose ``str()`` is the same text)."""
import os

device = os.environ.get("STUB_WEBUI_DEVICE", "cpu")
task_devices = {}


def get_device_for(task):
    return task_devices.get(task, device)
