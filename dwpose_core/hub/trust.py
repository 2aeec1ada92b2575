"""Trust policy: what a found file must satisfy, by where it came from.

* Downloaded by us (a provenance record): it must match the SHA-256 and size
  recorded at download time. While its size and mtime are unchanged it is
  trusted without re-hashing (``thorough`` - ``models verify`` - hashes anyway).
* Downloaded by huggingface_hub (its local-folder metadata, or a blob in the
  Hugging Face cache, named by its SHA-256): it must match that hash.
* Placed by hand: it must pass the structural check; a size or hash different
  from the official file is only a warning (fine-tuned variants exist).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from . import provenance
from .registry import ModelSpec
from .verify import VerifyResult, verify_cached, verify_file


def evaluate(path: Path, spec: Optional[ModelSpec], kind: Optional[str], *, hf_cache: bool = False,
             thorough: bool = False) -> VerifyResult:
    """Verify one found file with the policy its origin calls for."""
    check = verify_file if thorough else verify_cached
    record = provenance.read_record(path)
    if record is not None:
        if record.unchanged(path) and not thorough:
            return VerifyResult(path, sha256=record.sha256, kind=spec.kind if spec else kind)
        return check(path, spec=spec, kind=kind, expected_size=record.size, expected_sha256=record.sha256,
                     strict=True)
    server_sha = provenance.hf_recorded_sha256(path)
    if server_sha is None and hf_cache:
        server_sha = provenance.hf_cache_blob_sha256(path)
    if server_sha is None:
        return check(path, spec=spec, kind=kind, strict=False)
    official = spec is not None and spec.sha256 == server_sha
    result = check(path, spec=spec, kind=kind, expected_sha256=server_sha,
                   expected_size=spec.size if official else None, strict=True)
    if result.ok and spec is not None and spec.sha256 and not official:
        result = dataclasses.replace(result, warnings=result.warnings + [
            "it differs from the official file (its source lists another SHA-256); using it anyway"])
    return result
