"""Whose version files are "ours": manifest lines signed by a key the user trusts.

A header line and a manifest line prove nothing about who wrote a folder (a tarball or a git
checkout brings both). So each manifest line carries a signature, by the writer's operator key
(``signing``), over its file name, digest, creation time and run id (the run folder's name, so a
line moved to another run no longer verifies). A file whose line is unsigned, badly signed or
signed by a key the reader does not trust is foreign: listed and shown as any file, executed only
when foreign files are allowed, and then isolated as krkn's are.

The reader trusts its own key, the keys in its trusted-keys file and the key lines passed with
``--trust-key`` (the set ``signing.local_trust`` makes).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable, Protocol

from ..sanitize import one_line
from ..errors import UserError

_signers: dict[Path, object] = {}
_signers_lock = threading.Lock()


def own_signer():
    """The operator's signer, loaded (or made) once per process and key path: a step's manifest
    line is signed on the write path, before the cluster is touched, and must not re-read the key."""
    from . import signing

    path = signing.default_key_path().expanduser()
    with _signers_lock:
        signer = _signers.get(path)
        if signer is None:
            signer = _signers[path] = signing.load_or_create(path)
    return signer


class ManifestLine(Protocol):
    """A manifest line's fields (``manifest.ManifestEntry``; the manifest signs through here)."""

    @property
    def file(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def created_ns(self) -> int | None: ...
    @property
    def signature(self) -> str | None: ...
    @property
    def signature_malformed(self) -> bool: ...


def signed_fields(run_id: str, entry: ManifestLine) -> dict:
    """What a manifest line's signature covers."""
    return {"run": run_id, "file": entry.file, "sha256": entry.sha256, "created_ns": entry.created_ns}


def sign_entry(run_id: str, entry: ManifestLine, signer=None) -> str:
    return (signer or own_signer()).sign_obj(signed_fields(run_id, entry))


class FolderTrust:
    """The keys a reader of version folders accepts, loaded on the first signed line it checks
    (listing a folder of krkn's files needs no key at all). Verdicts are remembered per line, so
    a console listing the same folder again verifies only new lines."""

    def __init__(self, extra: Iterable[str] = (), trusted_file: Path | None = None):
        self.extra = tuple(extra)
        self.trusted_file = trusted_file
        self._keys = None
        self._own_problem: str | None = None
        self.problem: str | None = None  # why the trusted-keys file was left out
        self._own = None  # the user's signer, once the keys are loaded
        self._own_prefix = ""
        self._verdicts: dict[tuple, str | None] = {}
        self._lock = threading.Lock()

    def keys(self):
        """The trusted keys; UserError naming ``--trust-key`` for a bad key line given there. A
        trusted-keys file that does not parse leaves its keys out (``problem`` says why): a run's
        own rollback must not stop on it."""
        with self._lock:
            if self._keys is None:
                self._keys = self._load()
            return self._keys

    def check(self) -> None:
        """UserError, before anything is executed, for a key line that does not parse."""
        self.keys()
        if self.problem:
            raise UserError(self.problem, field="trusted keys")

    def _load(self):
        from . import signing

        try:
            own = own_signer()
        except (signing.SigningError, OSError) as exc:
            # Nothing is ours then; each file says so (and why), none is refused for it alone.
            own, self._own_problem = None, "your key: " + one_line(exc)
        self._own = own
        self._own_prefix = f"{signing.ALGORITHM}:{own.key_id}:" if own is not None else ""
        # signing.local_trust's set, each part failing on its own
        keys = signing.TrustedKeys([own.public_raw] if own is not None else [])
        try:
            keys.add_file(self.trusted_file or signing.default_trusted_path(), missing_ok=self.trusted_file is None)
        except signing.SigningError as exc:
            self.problem = str(exc)
        return _with_extra(keys, self.extra)

    def foreign_reason(self, run_id: str, entry: ManifestLine | None) -> str | None:
        """None when ``entry`` (a manifest line of run ``run_id``) is signed by a trusted key;
        else why the file is foreign, in a few words ("foreign: not signed", ...)."""
        if entry is None:
            return "foreign: not in the run's manifest"
        signature = entry.signature
        if entry.signature_malformed:
            return "foreign: malformed signature"
        if signature is None:
            return "foreign: not signed"
        fields = signed_fields(run_id, entry)
        memo = (run_id, repr(sorted(fields.items())), signature)
        with self._lock:
            if memo in self._verdicts:
                return self._verdicts[memo]
        keys = self.keys()
        if self._own is not None and signature.startswith(self._own_prefix) \
                and self._own.sign_obj(fields) == signature:
            # Ed25519 signs deterministically: our own line re-signed is the same text, and
            # signing costs a third of verifying (a listing of 10,000 of our steps checks each).
            reason = None
        else:
            verified, why = keys.check_obj(fields, signature)
            reason = None if verified else _reason(why, self._own_problem or self.problem)
        with self._lock:
            if len(self._verdicts) > 200_000:  # a folder that big is re-verified, not held for ever
                self._verdicts.clear()
            self._verdicts[memo] = reason
        return reason


def _with_extra(keys, extra: Iterable[str]):
    from . import signing

    for line in extra:
        try:
            keys.add_text(line)
        except signing.SigningError as exc:
            raise UserError(str(exc), field="--trust-key") from None
    return keys


def _reason(why: str | None, key_problem: str | None) -> str:
    text = f"foreign: {why or 'not verified'}"
    if key_problem and why and why.startswith("signed by unknown key"):
        text += f" ({key_problem})"  # a key that could not be read may be the one
    return text


def trust_note(v) -> str | None:
    """What a listing says of a step's origin beyond its column: why a file with krkn-tui's
    header is not ours (krkn's own files say so in their origin already)."""
    return v.foreign if v.origin == "krkn-tui" else None
