"""``python -m dwpose_core models list | download NAME... | verify [NAME_OR_PATH...]``."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from . import download as dl
from . import locate
from .errors import HubError
from .registry import DEFAULTS, KINDS, find_spec, specs, unknown_name_message
from .resolver import evaluate, list_models, resolve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dwpose_core models",
                                     description="List, download and verify DWPose model files.")
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
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    return {"list": _list, "download": _download, "verify": _verify}[args.command](args)


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
    failed = 0
    for name in names:
        spec = find_spec(name)
        if spec is None:
            print(f"error: {unknown_name_message(name)}", file=sys.stderr)
            failed += 1
            continue
        if not spec.supported:
            print(f"error: {spec.filename} is not supported: {spec.reason}; use {spec.instead} instead.",
                  file=sys.stderr)
            failed += 1
            continue
        try:
            if args.dir is not None:
                path = _download_into(spec, args.dir, args.force)
            elif args.force:
                path = dl.fetch(spec, locate.download_dir(), force=True)
            else:
                path = resolve(spec.filename, download=True)
        except HubError as exc:
            _print_error(exc)
            failed += 1
            continue
        print(f"ok    {spec.filename} -> {path}")
    return 1 if failed else 0


def _download_into(spec, folder: Path, force: bool) -> Path:
    target = folder / spec.filename
    if target.is_file() and not force and evaluate(target, spec, spec.kind).ok:
        return target
    return dl.fetch(spec, folder, force=target.exists())


def _verify(args) -> int:
    targets: list[tuple[str, Path, object, bool]] = []  # (label, path, spec or None, in the HF cache)
    missing = []
    if args.names:
        for name in args.names:
            path = Path(name).expanduser()
            if path.is_file():
                targets.append((name, path, find_spec(path.name), False))
                continue
            spec = find_spec(name)
            if spec is None:
                print(f"error: {name} is neither a file nor a known model name.", file=sys.stderr)
                return 2
            found = locate.find_candidates(spec.filename, spec.repo_id)
            targets += [(spec.filename, c.path, spec, c.hf_cache) for c in found]
            if not found:
                missing.append(spec.filename)
    else:
        for spec in specs():
            if spec.supported:
                targets += [(spec.filename, c.path, spec, c.hf_cache)
                            for c in locate.find_candidates(spec.filename, spec.repo_id)]
    failed = 0
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
    if not targets and not missing:
        print("No model files found. `python -m dwpose_core models download` fetches the defaults.")
    return 1 if failed else 0


def _print_error(exc: Exception) -> None:
    lines = str(exc).splitlines() or [type(exc).__name__]
    print(f"error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
