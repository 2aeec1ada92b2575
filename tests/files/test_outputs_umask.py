"""Written files follow the user's umask, read once: no writer changes the process umask while
other threads write (a umask of 0 set by one thread would make another's files world-writable)."""
import os
import subprocess
import sys
import threading
from pathlib import Path

from dwpose_core.files import outputs

ROOT = Path(__file__).resolve().parents[2]


def test_writers_never_touch_the_process_umask(tmp_path, monkeypatch):
    def forbidden(*_):
        raise AssertionError("os.umask called while writing")

    monkeypatch.setattr(os, "umask", forbidden)
    errors = []

    def write(i):
        try:
            for k in range(20):
                outputs.write_bytes(tmp_path / f"t{i}_{k}.bin", b"x")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(list(tmp_path.iterdir())) == 80


def test_files_get_the_mode_of_the_umask_the_process_started_with(tmp_path):
    code = ("import os; os.umask(0o027); from dwpose_core.files import outputs; "
            f"p = outputs.write_bytes({str(tmp_path / 'a.bin')!r}, b'x'); print(oct(os.stat(p).st_mode & 0o777))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == oct(0o666 & ~0o027)
