"""The one restricted .pth reader (hub/safe_pickle.py), as the hub check and the torch loader use it.

Hostile files are built here, opcode by opcode where Python's pickler would not write them. For each,
the ground truth is independent of the reader: a marker file that the payload would create, the
bytes the archive really holds, the memory tracemalloc sees.
"""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dwpose_core.hub import verify
from dwpose_core.checkpoints import safe_pickle
from dwpose_core.checkpoints.safe_pickle import CheckpointArchive, CheckpointFormatError, Placeholder

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- a tiny pickle assembler (protocol 2)

PROTO, STOP, MARK, TUPLE, T1, T2 = b"\x80\x02", b".", b"(", b"t", b"\x85", b"\x86"
REDUCE, BUILD, EMPTY_DICT, EMPTY_TUPLE, SETITEM, SETITEMS, PERSID = b"R", b"b", b"}", b")", b"s", b"u", b"Q"
FALSE = b"\x89"


def G(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def S(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def I(value: int) -> bytes:  # noqa: E743
    if 0 <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def tup(values) -> bytes:
    return MARK + b"".join(I(v) if isinstance(v, int) else v for v in values) + TUPLE


def call(fn: bytes, *args: bytes) -> bytes:
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def tensor(key: str, numel: int, shape, stride, offset: int = 0, storage: str = "FloatStorage") -> bytes:
    pid = MARK + S("storage") + G("torch", storage) + S(key) + S("cpu") + I(numel) + TUPLE + PERSID
    return call(G("torch._utils", "_rebuild_tensor_v2"), pid, I(offset), tup(shape), tup(stride), FALSE,
                call(G("collections", "OrderedDict")))


def checkpoint(entries: dict, meta: bytes = b"") -> bytes:
    """A pickle of {"state_dict": {name: <ops>}, "meta": <ops>}."""
    items = b"".join(S(k) + v for k, v in entries.items())
    body = S("state_dict") + EMPTY_DICT + MARK + items + SETITEMS
    if meta:
        body += S("meta") + meta
    return PROTO + EMPTY_DICT + MARK + body + SETITEMS + STOP


def archive(pkl: bytes, storages: dict = (), compress: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in dict(storages).items():
            z.writestr(zipfile.ZipInfo(f"archive/data/{key}"), data,
                       compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def floats(n: int) -> bytes:
    return np.arange(n, dtype="<f4").tobytes()


# ---------------------------------------------------------------- A: the real mmengine message hub

def _mmengine_checkpoint(path: Path, *, lean: bool) -> Path:
    """An mmengine-style full checkpoint of RTMPose-t whose message_hub is mmengine's own, written by torch."""
    mmengine_logging = pytest.importorskip("mmengine.logging", reason="mmengine (dev dependency) is not installed")
    torch = pytest.importorskip("torch")
    from dwpose_core.torch_models.rtmpose import RTMPoseSpec
    from tools.make_test_models import random_checkpoint_state

    spec = RTMPoseSpec("t", (256, 192))
    state = random_checkpoint_state(spec, seed=5)
    hub = mmengine_logging.MessageHub.get_instance(f"test-{path.stem}")
    for lr in (4e-3, 2e-3):
        hub.update_scalar("train/lr", lr)
    hub.update_info("epoch", 270)
    params = [v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    optimizer = {"state": {} if lean else {i: {"step": torch.tensor(270.0), "exp_avg": torch.zeros_like(p),
                                               "exp_avg_sq": torch.full_like(p, 1e-8)} for i, p in enumerate(params)},
                 "param_groups": [{"lr": 4e-3, "betas": (0.9, 0.999), "params": list(range(len(params)))}]}
    torch.save({"meta": {"mmengine_version": "0.10.7", "epoch": 270, "dataset_meta": {"num_keypoints": 133}},
                "state_dict": state, "message_hub": hub.state_dict(), "optimizer": optimizer,
                "param_schedulers": [{"base_values": [4e-3], "last_step": 270}]}, str(path))
    return path


def test_a_checkpoint_with_mmengines_own_history_buffer_reads(tmp_path):
    path = _mmengine_checkpoint(tmp_path / "dw-tt_ucoco.pth", lean=True)
    assert b"getattr" in zipfile.ZipFile(path).read("dw-tt_ucoco/data.pkl")  # the case the issue is about
    with CheckpointArchive(path) as ckpt:
        buffer = ckpt.root["message_hub"]["log_scalars"]["train/lr"]
        assert isinstance(buffer, Placeholder) and buffer._name == "HistoryBuffer"
        methods = buffer.state["statistics_methods"]
        assert {k: v._name for k, v in methods.items()} == {"min": "min", "max": "max", "current": "current",
                                                            "mean": "mean"}
        assert all(issubclass(v, Placeholder) and v._module.endswith("HistoryBuffer") for v in methods.values())
    result = verify.verify_file(path, kind="pose")
    assert result.ok, result.summary()


def test_the_loader_reads_the_same_file_to_the_saved_weights(tmp_path):
    torch = pytest.importorskip("torch")
    from dwpose_core.checkpoints.pth_reader import Checkpoint

    path = _mmengine_checkpoint(tmp_path / "full.pth", lean=True)
    expected = torch.load(str(path), weights_only=False)["state_dict"]  # trusted here: we wrote it
    with Checkpoint(path) as ckpt:
        got = ckpt.load(ckpt.root["state_dict"])
    assert list(got) == list(expected) and all(torch.equal(got[k], expected[k]) for k in expected)


# ---------------------------------------------------------------- A: getattr and other payloads

def _payloads(marker: Path) -> dict:
    cmd = S(f"touch {marker}")
    code = S(f"open({str(marker)!r}, 'w').close()")
    getattr_ = G("__builtin__", "getattr")
    return {
        "getattr(os, 'system')": call(call(getattr_, call(G("__builtin__", "__import__"), S("os")), S("system")), cmd),
        "getattr(builtins, 'eval')": call(call(getattr_, call(G("importlib", "import_module"), S("builtins")),
                                               S("eval")), code),
        "getattr(sys.modules, ...)": call(call(getattr_, G("sys", "modules"), S("get")), S("os")),
        "getattr on a real class": call(call(getattr_, G("collections", "OrderedDict"), S("fromkeys")), cmd),
        "getattr on a string": call(call(getattr_, S("x"), S("join")), cmd),
        "getattr on a rebuild function": call(call(getattr_, G("torch._utils", "_rebuild_tensor_v2"),
                                                   S("__globals__")), cmd),
        "getattr on a storage type": call(getattr_, G("torch", "FloatStorage"), S("from_file")),
        "nested reduce reaching eval": call(call(getattr_, G("mmengine.logging", "HistoryBuffer"), S("min")),
                                            call(G("builtins", "eval"), code)),
        "os.system directly": call(G("posix", "system"), cmd),
        "subprocess": call(G("subprocess", "call"), cmd),
    }


@pytest.mark.parametrize("case", list(_payloads(Path("m"))))
def test_payloads_are_refused_by_the_check_and_the_loader_and_never_run(tmp_path, case):
    marker = tmp_path / "marker"
    path = write(tmp_path, "evil.pth", archive(checkpoint({}, meta=_payloads(marker)[case])))
    with pytest.raises(CheckpointFormatError) as err:
        CheckpointArchive(path)
    assert str(err.value).startswith("evil.pth: ")
    result = verify.verify_file(path, kind="pose")
    assert not result.ok
    if pytest.importorskip("torch"):
        from dwpose_core.torch_models.loading import WeightsFormatError, load_weights

        with pytest.raises(WeightsFormatError, match="evil.pth"):
            load_weights(path, cache=False)
    assert not marker.exists()


def test_getattr_on_placeholders_gives_placeholders_and_calling_them_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    getattr_ = G("__builtin__", "getattr")
    chain = G("mmengine.logging.history_buffer", "HistoryBuffer")
    for name in ("min", "__globals__", "__builtins__"):
        chain = call(getattr_, chain, S(name))
    payload = call(chain, S(f"touch {marker}"))
    path = write(tmp_path, "odd.pth", archive(checkpoint({}, meta=payload)))
    with CheckpointArchive(path) as ckpt:
        meta = ckpt.root["meta"]
    assert isinstance(meta, Placeholder) and meta.args == (f"touch {marker}",)
    assert type(meta)._module == "mmengine.logging.history_buffer.HistoryBuffer.min.__globals__"
    assert not marker.exists()


# ---------------------------------------------------------------- B: sizes, shapes, keys, reduces

def test_storage_sizes_that_do_not_fit_the_file_are_refused_before_reading(tmp_path):
    # a 4 GB tensor declared over 16 real bytes
    path = write(tmp_path, "bomb.pth", archive(checkpoint({"w": tensor("0", 10**9, (10**9,), (1,))}),
                                               {"0": floats(4)}))
    tracemalloc.start()
    with pytest.raises(CheckpointFormatError, match=r"^bomb.pth: .*4,000,000,000 bytes"):
        CheckpointArchive(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024
    assert not verify.verify_file(path, kind="pose").ok


def test_a_compressed_storage_is_refused_as_a_possible_zip_bomb(tmp_path):
    n = 8 * 1024 * 1024  # 32 MB of zeros deflate to a few kB
    path = write(tmp_path, "zipped.pth", archive(checkpoint({"w": tensor("0", n, (n,), (1,))}),
                                                 {"0": bytes(4 * n)}, compress=True))
    assert path.stat().st_size < 1024 * 1024
    tracemalloc.start()
    with pytest.raises(CheckpointFormatError, match=r"^zipped.pth: .*compressed"):
        CheckpointArchive(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


_BUILD_ON_TENSOR = tensor("0", 6, (6,), (1,)) + EMPTY_DICT + S("shape") + tup((10**6,)) + SETITEM + BUILD
CRAFTED = {
    "shape beyond its storage": ({"w": tensor("0", 6, (2, 4), (4, 1))}, {"0": floats(6)}, "reaches element"),
    "offset beyond its storage": ({"w": tensor("0", 6, (6,), (1,), offset=3)}, {"0": floats(6)}, "reaches element"),
    "shape and stride of different ranks": ({"w": tensor("0", 6, (2, 3), (1,))}, {"0": floats(6)}, "strides"),
    "negative stride": ({"w": tensor("0", 6, (6,), (-1,))}, {"0": floats(6)}, "non-negative"),
    "huge rank": ({"w": tensor("0", 1, (1,) * 100, (1,) * 100)}, {"0": floats(1)}, "short tuple"),
    "storage key with a path": ({"w": tensor("../x", 6, (6,), (1,))}, {"0": floats(6)}, "plain name"),
    "storage key missing from the archive": ({"w": tensor("7", 6, (6,), (1,))}, {"0": floats(6)}, "missing"),
    "entry size differs from the declaration": ({"w": tensor("0", 6, (6,), (1,))}, {"0": floats(5)}, "should hold"),
    "one key declared with two sizes": ({"a": tensor("0", 6, (6,), (1,)), "b": tensor("0", 3, (3,), (1,))},
                                        {"0": floats(6)}, "declared twice"),
    "tensor rebuilt from a string": ({"w": call(G("torch._utils", "_rebuild_tensor_v2"), S("0"), I(0), tup((1,)),
                                                tup((1,)), FALSE, call(G("collections", "OrderedDict")))},
                                     {}, "not a declared storage"),
    "parameter from a number": ({"w": call(G("torch._utils", "_rebuild_parameter"), I(3), FALSE,
                                           call(G("collections", "OrderedDict")))}, {}, "not a tensor"),
    "state given to a tensor": ({"w": _BUILD_ON_TENSOR}, {"0": floats(6)}, "cannot be given state"),
    "a reduce with the wrong arguments": ({"w": call(G("collections", "OrderedDict"), I(1), I(2), I(3))}, {},
                                          "damaged or crafted"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_files_are_one_clear_error_naming_the_file_everywhere(tmp_path, case):
    entries, storages, says = CRAFTED[case]
    path = write(tmp_path, "crafted.pth", archive(checkpoint(entries), storages))
    with pytest.raises(CheckpointFormatError) as err:
        CheckpointArchive(path)
    assert str(err.value).startswith("crafted.pth: ") and says in str(err.value)
    result = verify.verify_file(path, kind="pose")  # same reader, same verdict
    assert not result.ok and says in result.summary()
    torch = pytest.importorskip("torch")  # noqa: F841
    from dwpose_core.torch_models.loading import WeightsFormatError, load_weights

    with pytest.raises(WeightsFormatError, match="crafted.pth"):
        load_weights(path, cache=False)


def test_a_truncated_pickle_is_a_clear_error(tmp_path):
    pkl = checkpoint({"w": tensor("0", 6, (6,), (1,))})
    path = write(tmp_path, "cut.pth", archive(pkl[: len(pkl) // 2], {"0": floats(6)}))
    with pytest.raises(CheckpointFormatError, match=r"^cut.pth: .*damaged or crafted"):
        CheckpointArchive(path)


def test_a_damaged_storage_fails_the_check_as_it_would_fail_loading(tmp_path):
    data = bytearray(archive(checkpoint({"w": tensor("0", 6, (6,), (1,))}), {"0": floats(6)}))
    at = bytes(data).index(floats(6))
    data[at + 3] ^= 0xFF  # one weight byte: the zip's CRC no longer matches
    path = write(tmp_path, "flipped.pth", bytes(data))
    with CheckpointArchive(path) as ckpt, pytest.raises(CheckpointFormatError, match="damaged"):
        ckpt.check_storages_readable(ckpt.storages.values())


def test_views_of_one_storage_and_offsets_read_back_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from dwpose_core.checkpoints.pth_reader import Checkpoint

    pkl = checkpoint({"whole": tensor("0", 12, (3, 4), (4, 1)), "t": tensor("0", 12, (4, 3), (1, 4)),
                      "tail": tensor("0", 12, (5,), (1,), offset=7), "empty": tensor("0", 12, (0, 4), (4, 1))})
    path = write(tmp_path, "views.pth", archive(pkl, {"0": floats(12)}))
    ref = np.arange(12, dtype=np.float32)
    with Checkpoint(path) as ckpt:
        got = ckpt.load(ckpt.root["state_dict"])
    np.testing.assert_array_equal(got["whole"].numpy(), ref.reshape(3, 4))
    np.testing.assert_array_equal(got["t"].numpy(), ref.reshape(3, 4).T)
    np.testing.assert_array_equal(got["tail"].numpy(), ref[7:12])
    assert tuple(got["empty"].shape) == (0, 4) and got["empty"].dtype == torch.float32


def test_a_storage_is_streamed_into_its_tensor_without_a_second_copy(tmp_path):
    torch = pytest.importorskip("torch")
    from dwpose_core.checkpoints.pth_reader import Checkpoint

    n = 10 * 1024 * 1024 // 4  # 10 MB
    path = tmp_path / "big.pth"
    torch.save({"state_dict": {"w": torch.arange(n, dtype=torch.float32)}}, str(path))
    with Checkpoint(path) as ckpt:
        lazy = ckpt.root["state_dict"]["w"]
        tracemalloc.start()
        w = ckpt.tensor(lazy)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert torch.equal(w, torch.arange(n, dtype=torch.float32))
    assert peak < 4 * n + 2 * safe_pickle.READ_CHUNK + 256 * 1024  # the tensor's buffer + one chunk in flight


# ---------------------------------------------------------------- A: the published kind of file, end to end

def test_a_full_mmengine_checkpoint_runs_through_the_cli_with_the_torch_backend(tmp_path):
    pytest.importorskip("torch")
    import cv2

    pth = _mmengine_checkpoint(tmp_path / "FULL.pth", lean=False)  # optimizer moments included, ~3x the weights
    with zipfile.ZipFile(pth) as z:
        assert sum(i.file_size for i in z.infolist() if "/data/" in i.filename) > 2.5 * 4 * 3_000_000 / 2
    image = tmp_path / "person.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), rng.integers(0, 255, (256, 192, 3), dtype=np.uint8))
    out = tmp_path / "out"
    env = {k: v for k, v in __import__("os").environ.items()}
    env.update(HF_HUB_OFFLINE="1", DWPOSE_TORCH_CACHE="0")
    proc = subprocess.run([sys.executable, "-m", "dwpose_core", str(image), "--det", "none", "--pose", str(pth),
                           "--backend", "torch", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = list(out.rglob("*.json"))
    assert written, proc.stderr
    import json

    frames = json.loads(written[0].read_text())
    frame = frames[0] if isinstance(frames, list) else frames
    (person,) = frame["people"]
    assert len(person["wholebody_keypoints_2d"]) == 133 * 3
    assert person["box_2d"][:4] == pytest.approx([0, 0, 192, 256])


def test_the_policy_table_and_the_readers_own_functions_agree():
    from dwpose_core.checkpoints import pickle_policy

    ours = set(safe_pickle._READER_FUNCTIONS) | {("collections", "OrderedDict")}
    assert ours == pickle_policy.READER_NAMES
