"""Command lines: ``python -m dwpose_core`` and its subcommands, one module each (:mod:`.main`,
:mod:`.render`, :mod:`.retarget`, :mod:`.models`, batch in :mod:`dwpose_core.batch.run`)."""
from __future__ import annotations


def main(argv=None) -> int:
    from .main import main as run

    return run(argv)
