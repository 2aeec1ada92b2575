"""Stand-in for comfy.model_management: device, interrupts, unloading; records calls."""


class _Device:
    def __init__(self, name):
        self.type = name.split(":")[0]
        self._name = name

    def __str__(self):
        return self._name


DEVICE = _Device("cpu")
CALLS = []  # ("free_memory", nbytes, device) / ("unload_all_models",) / ("soft_empty_cache",)


class InterruptProcessingException(BaseException):
    pass


interrupt_processing = False


def get_torch_device():
    return DEVICE


def interrupt_current_processing(value=True):
    global interrupt_processing
    interrupt_processing = value


def processing_interrupted():
    return interrupt_processing


def throw_exception_if_processing_interrupted():
    global interrupt_processing
    if interrupt_processing:
        interrupt_processing = False
        raise InterruptProcessingException()


def free_memory(memory_required, device, keep_loaded=[]):
    CALLS.append(("free_memory", memory_required, str(device)))
    return []


def unload_all_models():
    CALLS.append(("unload_all_models",))


def soft_empty_cache(force=False):
    CALLS.append(("soft_empty_cache",))


def unet_offload_device():
    return _Device("cpu")


def load_models_gpu(models, memory_required=0, force_patch_weights=False, minimum_memory_required=None,
                    force_full_load=False):
    CALLS.append(("load_models_gpu", list(models), force_full_load))
