"""``python -m dwpose_core models list | download NAME... | verify [NAME_OR_PATH...]``.

Exit codes: 0 everything asked for is done; 1 some of it failed (each failure is named, the rest
was done); 2 a wrong argument, or a model/hub problem that stopped the command (an unknown or
unsupported name, an unreachable hub). Messages are one line on stderr (guidance on indented lines
below it), never a traceback (``--debug`` shows one).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, Parser, UsageError, print_error, report
from ..hub import archives
from ..hub import download as dl
from ..hub import http_client, locate
from ..hub.errors import DownloadError, HubError
from ..hub.listing import list_models
from ..hub.registry import DEFAULTS, KINDS, find_spec, specs, unknown_name_message
from ..hub.resolver import resolve
from ..hub.trust import evaluate

HELP_HINT = " (see `python -m dwpose_core models --help`)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m dwpose_core models", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="List, download and verify DWPose model files.",
                     epilog="exit codes: 0 done, 1 some failed, 2 wrong arguments or a model/hub problem\n"
                            f"environment: DWPOSE_CKPTS_DIR (download folder), HF_ENDPOINT, HF_HUB_OFFLINE, "
                            f"HF_TOKEN,\n  {http_client.ENV_TIMEOUT} (seconds a server may take to answer, default "
                            f"{http_client.DEFAULT_TIMEOUT:g}, at most {http_client.MAX_TIMEOUT:g})")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="every known model and where it was found")
    p.add_argument("--kind", choices=KINDS)
    p = sub.add_parser("download", help="download models (default: the default detector and pose model)")
    p.add_argument("names", nargs="*", metavar="NAME", help="registry names, e.g. yolox_l.onnx; 'all' for every one")
    p.add_argument("--dir", type=Path, help="download into this folder (e.g. to copy to an offline machine)")
    p.add_argument("--force", action="store_true", help="download again even if a good copy exists")
    p = sub.add_parser("verify", help="check size, SHA-256 and structure of the model files found")
    p.add_argument("names", nargs="*", metavar="NAME_OR_PATH", help="default: every known model found")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "models":
        argv = argv[1:]
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:  # one line and exit code 2, instead of the usage block
        return report(UsageError(f"{exc}{HELP_HINT}"))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return {"list": _list, "download": _download, "verify": _verify}[args.command](args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line and its exit code
        return report(exc, debug=debug)


def _list(args) -> int:
    defaults = set(DEFAULTS.values())
    rows = list_models(args.kind)
    width = max(len(m.name) for m in rows) + 2
    print(f"{'NAME':<{width}}{'KIND':<10}STATUS")
    for m in rows:
        mark = "*" if m.name in defaults else " "
        if not m.supported:
            status = f"not supported: {m.reason}"
        elif m.path is not None:
            status = f"found: {m.path}  ({m.found_in})"
        else:
            status = f"missing; download: {m.url}"
        print(f"{m.name + mark:<{width}}{m.kind:<10}{status}")
    print(f"\n* = default model. Downloads go to {locate.download_dir()}")
    return 0


def _download(args) -> int:
    names = args.names or list(DEFAULTS.values())
    if names == ["all"]:
        names = [s.filename for s in specs() if s.downloadable]
    chosen, bad = [], []
    for name in names:  # every name is checked before anything is downloaded
        spec = find_spec(name)
        if spec is None:
            bad.append(unknown_name_message(name))
        elif not spec.supported:
            bad.append(f"{spec.filename} is not supported: {spec.reason}; use {spec.instead} instead.")
        elif not spec.downloadable:
            bad.append(f"{spec.filename} is never downloaded by this pack ({spec.licence or 'not offered'}); it is "
                       "used where you already have it.")
        else:
            chosen.append(spec)
    for text in bad:
        print(f"error: {text}", file=sys.stderr)
    if bad:
        return EXIT_USAGE
    failed = 0
    for i, spec in enumerate(chosen):
        try:
            if args.dir is not None:
                path = _download_into(spec, args.dir, args.force)
            elif args.force:
                path = archives.fetch_model(spec, locate.download_dir())
            else:
                path = resolve(spec.filename, download=True)
        except HubError as exc:
            print_error(exc)
            failed += 1
            if _hub_unusable(exc):  # unreachable or offline: the others would fail the same way
                rest = [s.filename for s in chosen[i + 1:]]
                if rest:
                    print(f"  not tried either: {', '.join(rest)}", file=sys.stderr)
                return EXIT_USAGE
            continue
        print(f"ok    {spec.filename} -> {path}")
    if failed:
        return EXIT_USAGE if failed == len(chosen) else EXIT_SOME_FAILED
    return EXIT_OK


def _hub_unusable(exc: Exception) -> bool:
    return getattr(exc, "unreachable", False) or (not isinstance(exc, DownloadError) and dl.is_offline())


def _download_into(spec, folder: Path, force: bool) -> Path:
    target = folder / spec.filename
    sidecars_there = all(p.is_file() for p in archives.sidecar_paths(spec, target))
    if target.is_file() and not force and sidecars_there and evaluate(target, spec, spec.kind).ok:
        return target
    return archives.fetch_model(spec, folder)  # plain files, archives (extracted), first-seen hashes


def _verify(args) -> int:
    targets: list[tuple[str, Path, object, bool]] = []  # (label, path, spec or None, in the HF cache)
    missing = []
    loops: list[tuple[Path, str]] = []
    if args.names:
        for name in args.names:
            path = Path(name).expanduser()
            if path.is_file():
                targets.append((name, path, find_spec(path.name), False))
                continue
            spec = find_spec(name)
            if spec is None:
                why = locate.LOOP_TEXT if locate.is_link_loop(path) else "it is neither a file nor a known model name"
                print(f"error: {name}: {why}.", file=sys.stderr)
                return EXIT_USAGE
            found = locate.find_candidates(spec.filename, spec.repo_id, loops=loops)
            targets += [(spec.filename, c.path, spec, c.hf_cache) for c in found]
            if not found:
                missing.append(spec.filename)
    else:
        for spec in specs():
            if spec.supported:
                targets += [(spec.filename, c.path, spec, c.hf_cache)
                            for c in locate.find_candidates(spec.filename, spec.repo_id, loops=loops)]
    failed = len(loops)
    for path, why in loops:
        print(f"FAIL  {path.name}  {path}\n      {why}")
    for label, path, spec, in_cache in targets:
        result = evaluate(path, spec, getattr(spec, "kind", None), hf_cache=in_cache, thorough=True)
        if not result.ok:
            failed += 1
            print(f"FAIL  {label}  {path}\n      {'; '.join(result.problems)}")
        elif result.warnings:
            print(f"WARN  {label}  {path}\n      {'; '.join(result.warnings)}")
        else:
            print(f"ok    {label}  {path}")
    for name in missing:
        print(f"missing  {name}")
    if not targets and not missing and not loops:
        print("No model files found. `python -m dwpose_core models download` fetches the defaults.")
    return EXIT_SOME_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
