"""Every subcommand speaks the same way: -q and --debug, one-line argument errors with "see --help",
exit codes and examples in --help, no "(default: None)"; silent no-ops are refused in one line."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dwpose_core.cli import main as main_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_the_log_level():
    """The commands set the "dwpose" logger's level (-q); later tests expect it as it was."""
    import logging

    logger = logging.getLogger("dwpose")
    level = logger.level
    yield
    logger.setLevel(level)
SUBCOMMANDS = [[], ["models"], ["render"], ["retarget"], ["batch"]]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "dwpose_core", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_and_argument_errors(sub):
    text = _run(*sub, "--help").stdout
    assert "exit codes" in text.lower() or "exit code" in text.lower()
    flat = " ".join(text.split())
    assert "(default: None)" not in flat and not re.search(r"\(default: [^()]*\) \(default:", flat)
    bad = _run(*sub, "--no-such-flag", "-q", "--debug")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "--help" in lines[0], bad.stderr


def test_main_help_names_the_environment_and_the_weightless_path():
    text = _run("--help").stdout
    for name in ("DWPOSE_DOWNLOAD_TIMEOUT", "DWPOSE_MAX_PIXELS", "DWPOSE_CACHE_DIR", "HF_TOKEN",
                 "Trying it without the real weights"):
        assert name in text
    assert "--backend" in text and "what runs the models" in text


@pytest.mark.parametrize("flags, words", [(["--max-people", "0"], "--max-people"),
                                          (["--backend", "onnxruntime", "--precision", "fp16"], "--precision fp16")])
def test_silent_no_ops_are_refused_in_one_line(tmp_path, capsys, flags, words):
    (tmp_path / "x.png").write_bytes(b"")
    assert main_cli.main([str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_batch_summary_with_a_suffix_it_does_not_write_is_refused(tmp_path, capsys):
    from dwpose_core.cli import batch

    (tmp_path / "in").mkdir()
    assert batch.main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--summary", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".parquet or .jsonl" in err[0]
