"""Command lines: ``python -m dwpose_core`` and its subcommands, one module each (:mod:`.main`,
:mod:`.batch`, :mod:`.render`, :mod:`.retarget`, :mod:`.models`), and what they share in
:mod:`.common` (parser pieces, the usage error, exit codes, the one error report).

``dwpose_core.cli.main`` is the main command's module (``main.main(argv)`` runs any of them); no
function here shares its name, so ``from dwpose_core.cli import main`` always gives the module,
whatever was imported before.
"""
