"""The package's errors: one family under :class:`DWPoseError`, and the command lines' exit codes.

Every exception class of ``dwpose_core`` derives from :class:`DWPoseError`. The classes live next to
the code that raises them (so they stay importable from there) and keep their built-in mix-ins, so a
caller catching ``ValueError`` / ``OSError`` / ``FileNotFoundError`` / ``RuntimeError`` still catches
them. The family (``tests/test_errors.py`` checks this table against the package)::

    class                      module                            also a             exit code
    DWPoseError                errors                            -                  2
      UsageError               errors                            -                  2
        PixelLimitSettingError files.images                      ValueError         2
        FolderBusyError        batch.journal                     -                  2
        OptionsChangedError    batch.journal                     -                  2
        FolderBusyError        batch.journal                     -                  2
        OptionsChangedError    batch.journal                     -                  2
      InputError               errors                            ValueError         1
        ImageReadError         files.images                      ValueError         1
        VideoReadError         files.frame_source                ValueError         1
      FormatError              formats.json_text                 ValueError         2
      BoundingBoxError         formats.boxes                     ValueError         2
      EditError                editor.document                   ValueError         2
      RetargetError            animate.retarget_math             ValueError         2
      ImageTooLargeError       files.images                      ValueError         2
      OutputError              files.outputs                     OSError            2
      OutputSizeError          render.draw                       ValueError         2
      OnnxParseError           checkpoints.onnx_file             ValueError         2
      CheckpointFormatError    checkpoints.safe_pickle           ValueError         2
        UnsafeCheckpointError  checkpoints.safe_pickle           ValueError         2
      WeightsFormatError       torch_models.weight_errors        ValueError         2
      ArchitectureMismatch     torch_models.weight_errors        ValueError         2
      DetectorContractError    stages.detection                  ValueError         2
      BackendError             backends.base                     RuntimeError       2
        DeviceError            backends.base                     RuntimeError       2
      HubError                 hub.errors                        -                  2
        ModelNotFoundError     hub.errors                        FileNotFoundError  2
          CorruptModelError    hub.errors                        FileNotFoundError  2
            ArchiveError       hub.archives                      FileNotFoundError  2
          DownloadError        hub.errors                        FileNotFoundError  2
        UnsupportedModelError  hub.errors                        ValueError         2
        ModelKindError         hub.errors                        ValueError         2
        PresetError            hub.presets                       ValueError         2
      HttpFailure              hub.http_client                   -                  2
        Unreachable            hub.http_client                   -                  2
        TimedOut               hub.http_client                   -                  2
          TooSlow              hub.http_client                   -                  2
        HttpStatusError        hub.http_client                   -                  2

A new exception class derives from :class:`DWPoseError` (or one of the above) and gets its row here.

Not an error: ``batch.run._Stopped`` is a ``KeyboardInterrupt`` (a run that is stopping; exit 130).

Exit codes of every command line (:func:`exit_code_for`; DESIGN.md, "CLI exit codes"):
0 all done; 1 some inputs failed (the others were done; :class:`InputError` when it ends the
command); 2 a wrong argument, a model / backend / device problem or an unwritable output (every
other :class:`DWPoseError`, and an ``OSError`` the system raised, such as a full disk), and also an
unexpected error, which is a bug (:func:`is_bug`); 130 interrupted (``KeyboardInterrupt``).
"""
from __future__ import annotations

import errno

__all__ = ["DWPoseError", "UsageError", "InputError", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE",
           "EXIT_INTERRUPTED", "EXIT_BUG", "EXIT_CODES", "exit_code_for", "is_bug", "one_line"]

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BUG = EXIT_USAGE  # an unexpected error: nothing more was done, the message says it is a bug


class DWPoseError(Exception):
    """Base class of every error this package raises on purpose; the message is meant for the user."""


class UsageError(DWPoseError):
    """A wrong argument the user can fix (the command lines); one line, exit code 2."""


class InputError(DWPoseError, ValueError):
    """An input could not be read or processed (its content); when it ends a command, exit code 1."""


# Error class -> exit code; the most derived class listed wins (see exit_code_for).
EXIT_CODES: dict[type, int] = {
    KeyboardInterrupt: EXIT_INTERRUPTED,
    InputError: EXIT_SOME_FAILED,
    UsageError: EXIT_USAGE,
    DWPoseError: EXIT_USAGE,  # model / backend / device / hub problems, an unwritable output
    OSError: EXIT_USAGE,  # the system said no (full disk, permission denied); see is_bug for the others
}

# errno values of an OSError the user's machine or files caused, not the code.
_ENVIRONMENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EFBIG", "EIO", "ENOENT", "ENOTDIR", "EISDIR", "EEXIST",
    "ENAMETOOLONG", "ELOOP", "EMFILE", "ENFILE", "EBUSY", "ETXTBSY", "EXDEV", "ENOTEMPTY", "EPIPE", "ENOMEM",
    "ESTALE", "ENXIO", "ENODEV") if hasattr(errno, name))
# OSError subclasses that name an environment problem even when raised without an errno.
_ENVIRONMENT_OSERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                         FileExistsError)


def is_bug(exc: BaseException) -> bool:
    """True for an unexpected error: not a :class:`DWPoseError`, not an interrupt, not an ``OSError``
    the system raised about the user's files or machine (full disk, permission denied, ...)."""
    if isinstance(exc, (DWPoseError, KeyboardInterrupt)):
        return False
    if isinstance(exc, OSError):
        return not (exc.errno in _ENVIRONMENT_ERRNOS or isinstance(exc, _ENVIRONMENT_OSERRORS))
    return True


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a command line that ``exc`` ends (:data:`EXIT_CODES`; a bug: :data:`EXIT_BUG`)."""
    if is_bug(exc):
        return EXIT_BUG
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_BUG


def one_line(exc: BaseException, with_type: bool = False) -> str:
    """An error as one line: its message, with its type when asked (records) or when the message alone
    says little (KeyError, TypeError, ...)."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if with_type or isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)):
        return f"{type(exc).__name__}: {text}"
    return text
