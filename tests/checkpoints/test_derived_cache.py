"""The per-user cache of derived model files is bounded: least recently used first, by DWPOSE_CACHE_LIMIT,
never touching files that are not ours or the ones in use (issue 24, items 11 and 13)."""
from __future__ import annotations

import logging
import os

import pytest

from dwpose_core.checkpoints import derived_cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(root))
    monkeypatch.delenv("DWPOSE_CACHE_LIMIT", raising=False)
    return root


def put(path, size: int, last_used: float, record: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if record:
        path.with_suffix(".json").write_text("{}")
    os.utime(path, (last_used, 1_000_000))
    return path


@pytest.mark.parametrize("text,expected", [("2G", 2 * 1024**3), ("500M", 500 * 1024**2), ("1.5GB", 1536 * 1024**2),
                                           ("123456", 123456), ("0", 0), ("64k", 65536)])
def test_sizes(text, expected):
    assert derived_cache.parse_size(text) == expected


def test_a_bad_limit_warns_and_uses_the_default(cache, monkeypatch):
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    derived_cache.log.addHandler(handler)  # directly: the CLI tests may stop "dwpose" propagating
    level, disabled = derived_cache.log.level, derived_cache.log.disabled
    derived_cache.log.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the logger's cache
    derived_cache.log.disabled = False
    monkeypatch.setattr(derived_cache, "_warned", set())
    monkeypatch.setenv("DWPOSE_CACHE_LIMIT", "lots")
    try:
        assert derived_cache.limit_setting() == 2 * 1024**3
        assert derived_cache.limit_setting() == 2 * 1024**3
    finally:
        derived_cache.log.removeHandler(handler)
        derived_cache.log.setLevel(level)
        derived_cache.log.disabled = disabled
    assert len(seen) == 1 and "DWPOSE_CACHE_LIMIT='lots'" in seen[0]


def test_the_least_recently_used_files_go_first_until_within_the_limit(cache, monkeypatch):
    old = put(cache / "yolox_l-batch-0123456789abcdef.onnx", 1000, 100, record=True)
    mid = put(cache / "ort-optimised" / "dw-ll-fedcba9876543210.onnx", 1000, 200, record=True)
    new = put(cache / "fused" / "dw-mm_ucoco-00112233445566aa.fused.safetensors", 1000, 300)
    monkeypatch.setenv("DWPOSE_CACHE_LIMIT", "2100")  # the three (with records) are 3004 bytes
    removed = derived_cache.evict()
    assert removed == [old] and not old.exists() and not old.with_suffix(".json").exists()
    assert mid.exists() and mid.with_suffix(".json").exists() and new.exists()


def test_a_file_used_recently_is_kept_over_an_older_unused_one(cache):
    first = put(cache / "a-batch-0123456789abcdef.onnx", 1000, 100)
    second = put(cache / "b-batch-0123456789abcdef.onnx", 1000, 200)
    derived_cache.used(first)  # read again now
    assert os.stat(first).st_mtime == 1_000_000  # the modification time (records compare it) is kept
    assert derived_cache.evict(limit=1500) == [second] and first.exists()


def test_the_file_just_written_stays_even_over_the_limit(cache, monkeypatch):
    older = put(cache / "a-640-0123456789abcdef.onnx", 1000, 100)
    written = put(cache / "b-960-0123456789abcdef.onnx", 5000, 50)
    monkeypatch.setenv("DWPOSE_CACHE_LIMIT", "0")
    assert derived_cache.admit(written) == [older]
    assert written.exists()


def test_files_that_are_not_ours_are_never_counted_or_deleted(cache):
    records = put(cache / "verified" / "0123456789abcdef0123456789abcdef.json", 10, 1)
    model = put(cache / "yolox_l.onnx", 5000, 1)  # DWPOSE_CACHE_DIR pointed at a model folder by mistake
    temp = put(cache / ".x-batch-0123456789abcdef.onnx.123.456.tmp", 5000, 1)
    index = put(cache / "sources.json", 10, 1)
    assert derived_cache.evict(limit=0) == []
    assert records.exists() and model.exists() and temp.exists() and index.exists()
    assert derived_cache.total_size() == 0
