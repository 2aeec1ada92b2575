"""One error family (dwpose_core.errors): every exception class of the package derives from
DWPoseError and keeps its built-in mix-in; one table from error to exit code."""
import builtins
import errno
import importlib
import inspect
import io
import pkgutil
import re
import warnings

import pytest

import dwpose_core
from dwpose_core import errors
from dwpose_core.errors import DWPoseError, EXIT_CODES, InputError, UsageError, exit_code_for, is_bug


def _package_exception_classes() -> dict[str, type]:
    """Every exception class defined in a module of the package, found by importing them all."""
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(dwpose_core.__path__, "dwpose_core."):
            if info.name.rpartition(".")[2] == "__main__":
                continue  # runs the command line
            try:
                module = importlib.import_module(info.name)
            except ImportError as exc:  # an optional dependency this environment lacks
                if (exc.name or "").startswith("dwpose_core"):
                    raise
                continue
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


CLASSES = _package_exception_classes()
INTERRUPTS = {name for name, cls in CLASSES.items() if issubclass(cls, KeyboardInterrupt)}


def _table() -> dict[str, tuple[str, str, int]]:
    """errors.py's docstring table: class name -> (module, also a, exit code)."""
    rows = {}
    for line in errors.__doc__.splitlines():
        m = re.match(r"^\s+(\w+)\s+([\w.]+)\s+(\w+|-)\s+(\d+)$", line)
        if m:
            rows[m[1]] = (m[2], m[3], int(m[4]))
    return rows


def test_the_walk_finds_the_family():
    assert len(CLASSES) > 25
    assert "dwpose_core.formats.json_text.FormatError" in CLASSES
    assert "dwpose_core.files.outputs.OutputError" in CLASSES


@pytest.mark.parametrize("name", sorted(set(CLASSES) - INTERRUPTS))
def test_every_exception_class_derives_from_dwpose_error(name):
    assert issubclass(CLASSES[name], DWPoseError), f"{name} is not a DWPoseError"


def test_the_only_interrupt_is_the_batch_stop():
    assert INTERRUPTS == {"dwpose_core.batch.run._Stopped"}
    assert not issubclass(CLASSES["dwpose_core.batch.run._Stopped"], Exception)  # never caught as an error


def test_the_docstring_table_lists_the_whole_family():
    table = _table()
    walked = {name.rpartition(".")[2]: name for name in set(CLASSES) - INTERRUPTS}
    assert set(table) == set(walked)
    for short, (module, also, code) in table.items():
        cls = CLASSES[walked[short]]
        assert cls.__module__ == f"dwpose_core.{module}", short
        if also != "-":
            assert issubclass(cls, getattr(builtins, also)), (short, also)
        assert exit_code_for(cls.__new__(cls)) == code, short


@pytest.mark.parametrize("module, name, mixin", [
    ("formats.json_text", "FormatError", ValueError),
    ("formats", "FormatError", ValueError),
    ("files.outputs", "OutputError", OSError),
    ("hub.errors", "ModelNotFoundError", FileNotFoundError),
    ("hub.errors", "CorruptModelError", FileNotFoundError),
    ("hub.errors", "UnsupportedModelError", ValueError),
    ("hub.errors", "ModelKindError", ValueError),
    ("backends.base", "BackendError", RuntimeError),
    ("backends", "DeviceError", RuntimeError),
    ("checkpoints.safe_pickle", "UnsafeCheckpointError", ValueError),
    ("checkpoints.onnx_file", "OnnxParseError", ValueError),
    ("torch_models.weight_errors", "ArchitectureMismatch", ValueError),
    ("render.draw", "OutputSizeError", ValueError),
    ("files.images", "ImageTooLargeError", ValueError),
    ("animate.retarget_math", "RetargetError", ValueError),
    ("editor.document", "EditError", ValueError),
    ("formats.boxes", "BoundingBoxError", ValueError),
    ("errors", "InputError", ValueError),
])
def test_mixins_are_kept_and_names_stay_where_they_were(module, name, mixin):
    cls = getattr(importlib.import_module(f"dwpose_core.{module}"), name)
    assert issubclass(cls, DWPoseError) and issubclass(cls, mixin)


def test_one_usage_error_for_every_command_line():
    from dwpose_core.cli import common, main

    assert main.UsageError is common.UsageError is UsageError
    usage_like = [name for name in CLASSES if name.startswith("dwpose_core.cli.")]
    assert usage_like == []  # no command line has an error class of its own


def test_an_output_error_is_still_an_oserror_with_its_message():
    from dwpose_core.files.outputs import OutputError

    exc = OutputError("cannot write x.png: No space left on device")
    assert str(exc) == "cannot write x.png: No space left on device"
    with pytest.raises(OSError):
        raise exc


@pytest.mark.parametrize("exc, code, bug", [
    (KeyboardInterrupt(), 130, False),
    (InputError("a.json: not valid JSON"), 1, False),
    (UsageError("--top-k must be >= 1"), 2, False),
    (DWPoseError("anything of ours"), 2, False),
    (OSError(errno.ENOSPC, "No space left on device"), 2, False),
    (PermissionError(errno.EACCES, "Permission denied"), 2, False),
    (FileNotFoundError("Model file not found: x.pth"), 2, False),
    (ValueError("operands could not be broadcast"), 2, True),
    (ZeroDivisionError("division by zero"), 2, True),
    (AttributeError("'NoneType' object has no attribute 'shape'"), 2, True),
    (io.UnsupportedOperation("not readable"), 2, True),
    (OSError("no errno: raised by code"), 2, True),
])
def test_exit_code_for(exc, code, bug):
    assert exit_code_for(exc) == code
    assert is_bug(exc) is bug


def test_the_exit_code_table():
    assert EXIT_CODES[KeyboardInterrupt] == 130 and EXIT_CODES[InputError] == 1
    assert EXIT_CODES[UsageError] == EXIT_CODES[DWPoseError] == 2
    from dwpose_core.backends import DeviceError
    from dwpose_core.batch.run import _Stopped
    from dwpose_core.files.outputs import OutputError
    from dwpose_core.hub.errors import DownloadError

    assert [exit_code_for(e) for e in (DeviceError("cuda:3"), OutputError("full"), DownloadError("offline"),
                                       _Stopped())] == [2, 2, 2, 130]
