"""`zunft archive verify-export FILE.zip`: check an export offline (docs/archive.md).

Needs no server, no database and no data directory: the manifest carries the public key it
was signed with (`--public-key` pins the installation's own key instead of trusting the one in
the file). It names every file changed, added, removed or renamed, a bad signature, and a
checkpoint that does not match the manifest's journal head.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zunft.archive.checkpoint import CheckpointError, verify_checkpoint
from zunft.crypto.signing import check_signature, key_id
from zunft.journal.chain import canonical

FORMAT = "zunft-export-v1"
MANIFEST = "manifest.json"
DOMAIN = b"zunft-export-manifest-v1\n"
CHUNK = 1 << 20


@dataclass
class ExportCheck:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    key_id: str = ""
    business: str = ""
    journal: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    digest = hashlib.sha256()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None  # damaged inside the ZIP (CRC error, truncated data)
    return digest.hexdigest()


def verify_export(path: Path, *, public_key: bytes | None = None) -> ExportCheck:
    check = ExportCheck()
    problems = check.problems
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"not a readable ZIP file: {exc}")
        return check
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"added: {name} (a second file under the same name)")
        if MANIFEST not in names:
            problems.append(f"removed: {MANIFEST} (the export cannot be checked without it)")
            return check
        try:
            manifest: dict[str, Any] = json.loads(zf.read(MANIFEST).decode("utf-8"))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {FORMAT} expected")
            signature = base64.b64decode(manifest.pop("signature"), validate=True)
            embedded = base64.b64decode(manifest["public_key"], validate=True)
            listed = {e["path"]: e for e in manifest["files"]}
            for entry in listed.values():
                if not (
                    isinstance(entry["path"], str)
                    and type(entry["size"]) is int
                    and isinstance(entry["sha256"], str)
                ):
                    raise ValueError(f"a file entry is incomplete: {entry!r:.100}")
            if not isinstance(manifest.get("journal", {}), dict):
                raise ValueError("journal is not an object")
            signed = canonical(manifest)
        except (ValueError, KeyError, TypeError, binascii.Error, zipfile.BadZipFile) as exc:
            problems.append(f"changed: {MANIFEST} (it is malformed: {exc})")
            return check
        check.key_id = key_id(embedded)
        business = manifest.get("business")
        check.business = str(business.get("name", "")) if isinstance(business, dict) else ""
        journal = manifest.get("journal", {})
        check.journal = f"{journal.get('entries')} entries, head {journal.get('head')}"
        if public_key is not None and embedded != public_key:
            problems.append(
                f"the manifest is signed by another key ({key_id(embedded)}, "
                f"expected {key_id(public_key)})"
            )
        if not check_signature(embedded, signature, DOMAIN, signed):
            problems.append(f"the signature of {MANIFEST} is wrong (the manifest was altered)")
        present = {i.filename: i for i in infos if i.filename != MANIFEST}
        removed = {p: e for p, e in listed.items() if p not in present}
        added: dict[str, str | None] = {}
        for name, info in present.items():
            digest = _sha256(zf, info)
            if name not in listed:
                added[name] = digest
            elif digest is None:
                problems.append(f"changed: {name} (damaged inside the ZIP)")
            elif digest != listed[name]["sha256"] or info.file_size != listed[name]["size"]:
                problems.append(f"changed: {name}")
        by_hash: dict[str, list[str]] = {}
        for name, digest in added.items():
            if digest is not None:
                by_hash.setdefault(digest, []).append(name)
        for old, entry in sorted(removed.items()):
            candidates = by_hash.get(entry["sha256"])
            if candidates:
                new = candidates.pop(0)
                added.pop(new)
                problems.append(f"renamed: {old} -> {new}")
            else:
                problems.append(f"removed: {old}")
        for name in sorted(added):
            problems.append(f"added: {name}")
        check.files = len(listed)
        cp_name = manifest.get("checkpoint")
        if isinstance(cp_name, str) and cp_name in present and cp_name in listed:
            try:
                cp = verify_checkpoint(zf.read(cp_name), public_key=embedded)
                if cp.count != journal.get("entries") or cp.head_hash.hex() != journal.get("head"):
                    problems.append(f"{cp_name} does not match the manifest's journal head")
            except CheckpointError as exc:
                problems.append(f"{cp_name}: {exc}")
    return check
