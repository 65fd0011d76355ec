"""Operator signing keys: who wrote a journal entry, a state change or a manifest line.

Data read back from the cluster or from a folder is only as trustworthy as its author. Each
operator has one ed25519 key, made on first use (mode 0600 in a 0700 folder), and signs the
canonical JSON of what it writes; a reader accepts only the public keys it was given.

Text forms (one line each, safe in annotations and files):
- public key: ``ed25519:<base64 of the 32 raw bytes>``
- key id: the first 16 hex digits of the public key's sha256
- signature: ``ed25519:<key id>:<base64 of the 64-byte signature>``
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ALGORITHM = "ed25519"
KEY_FILE = "signing-key"
TRUSTED_FILE = "trusted-keys"
MAX_KEY_FILE_BYTES = 64 * 1024


class SigningError(Exception):
    """A key could not be made, read or parsed; the message is one line."""


def config_dir() -> Path:
    """``$KRKN_TUI_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/krkn-tui``, else ``~/.config/krkn-tui``."""
    explicit = os.environ.get("KRKN_TUI_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "krkn-tui"


def default_key_path() -> Path:
    return config_dir() / KEY_FILE


def default_trusted_path() -> Path:
    return config_dir() / TRUSTED_FILE


def canonical(obj: object) -> bytes:
    """The one byte form that is signed: sorted keys, no spaces, ASCII, no NaN."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise SigningError(f"cannot sign a value that is not plain JSON: {exc}") from None


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def public_text(raw_public: bytes) -> str:
    return f"{ALGORITHM}:{base64.b64encode(raw_public).decode()}"


def parse_public(text: str) -> bytes:
    """The 32 raw bytes of a public key line; SigningError naming what is wrong."""
    algo, _, b64 = text.strip().partition(":")
    if algo != ALGORITHM:
        raise SigningError(f"not an {ALGORITHM} public key: {text.strip()[:40]!r}")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"public key is not base64: {text.strip()[:40]!r}") from None
    if len(raw) != 32:
        raise SigningError(f"public key is {len(raw)} bytes, not 32: {text.strip()[:40]!r}")
    return raw


class Signer:
    """One private key: signs bytes, knows its public key and id."""

    def __init__(self, private_raw: bytes):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.from_private_bytes(private_raw)
        self.public_raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.public_raw)
        self.public_text = public_text(self.public_raw)

    @staticmethod
    def generate() -> "Signer":
        return Signer(os.urandom(32))

    def sign(self, payload: bytes) -> str:
        sig = self._key.sign(payload)
        return f"{ALGORITHM}:{self.key_id}:{base64.b64encode(sig).decode()}"

    def sign_obj(self, obj: object) -> str:
        return self.sign(canonical(obj))


def load_or_create(path: Path | None = None) -> Signer:
    """The operator's key at ``path`` (default: the config folder), made on first use.

    Two processes creating it at once agree on one key: each writes a private temp file and
    links it into place, which fails for the loser, who then reads the winner's key.
    """
    from ..fsio import ensure_private_dir, open_private, unsafe_file_reason

    path = Path(path or default_key_path()).expanduser()
    try:
        fd = open_private(path)
    except FileNotFoundError:
        return _create(path, ensure_private_dir)
    except PermissionError as exc:
        raise SigningError(f"{path}: not a private key file of ours ({exc})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        problem = unsafe_file_reason(path, st)
        if problem is None and st.st_mode & 0o077:
            problem = f"{path} is readable by others (mode {st.st_mode & 0o777:o}; chmod 600 it)"
        if problem:
            raise SigningError(problem)
        raw = f.read(MAX_KEY_FILE_BYTES)
    return _parse_private(path, raw)


def _parse_private(path: Path, raw: bytes) -> Signer:
    text = raw.decode("ascii", "replace").strip()
    algo, _, b64 = text.partition(":")
    try:
        key = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if algo != ALGORITHM or len(key) != 32:
        raise SigningError(f"{path}: not a krkn-tui signing key (expected one line 'ed25519:<base64>')")
    return Signer(key)


def _create(path: Path, ensure_private_dir) -> Signer:
    from ..fsio import fsync_dir

    ensure_private_dir(path.parent)
    private = os.urandom(32)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, f"{ALGORITHM}:{base64.b64encode(private).decode()}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        os.unlink(tmp)
        return load_or_create(path)
    os.unlink(tmp)
    fsync_dir(path.parent)
    return Signer(private)


@dataclass(frozen=True)
class Verified:
    """A signature checked against a trusted key: ``key_id`` is whose."""

    key_id: str


class TrustedKeys:
    """The public keys a reader accepts, by key id."""

    def __init__(self, keys: Iterable[bytes] = ()):
        self._by_id: dict[str, bytes] = {}
        for raw in keys:
            self.add(raw)

    def add(self, raw_public: bytes) -> str:
        kid = key_id(raw_public)
        self._by_id[kid] = raw_public
        return kid

    def add_text(self, text: str) -> str:
        return self.add(parse_public(text))

    def add_lines(self, text: str, where: str) -> None:
        """Public key lines (``#`` comments and blank lines skipped); SigningError naming
        ``where`` and the line number for a bad one."""
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                self.add_text(line)
            except SigningError as exc:
                raise SigningError(f"{where}:{number}: {exc}") from None

    def add_file(self, path: Path, *, missing_ok: bool = False) -> None:
        path = Path(path).expanduser()
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_KEY_FILE_BYTES + 1)
        except FileNotFoundError:
            if missing_ok:
                return
            raise SigningError(f"{path}: no such trusted-keys file") from None
        except OSError as exc:
            raise SigningError(f"{path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_KEY_FILE_BYTES:
            raise SigningError(f"{path}: larger than {MAX_KEY_FILE_BYTES} bytes")
        self.add_lines(raw.decode("utf-8", "replace"), str(path))

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def check(self, payload: bytes, signature: str | None) -> tuple[Verified | None, str | None]:
        """``(Verified, None)`` when ``signature`` is a good signature of ``payload`` by a
        trusted key, else ``(None, why)`` in a few words (unsigned, malformed, unknown key,
        wrong signature)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if not signature:
            return None, "unsigned"
        parts = signature.strip().split(":")
        if len(parts) != 3 or parts[0] != ALGORITHM:
            return None, "malformed signature"
        kid, b64 = parts[1], parts[2]
        raw = self._by_id.get(kid)
        if raw is None:
            return None, f"signed by unknown key {kid[:16]!r}"
        try:
            sig = base64.b64decode(b64, validate=True)
            Ed25519PublicKey.from_public_bytes(raw).verify(sig, payload)
        except (binascii.Error, ValueError, InvalidSignature):
            return None, f"bad signature for key {kid}"
        return Verified(kid), None

    def check_obj(self, obj: object, signature: str | None) -> tuple[Verified | None, str | None]:
        try:
            payload = canonical(obj)
        except SigningError as exc:
            return None, str(exc)
        return self.check(payload, signature)


def local_trust(signer: Signer | None = None, extra: Iterable[str] = (),
                trusted_file: Path | None = None) -> TrustedKeys:
    """What the local executor accepts: its own key, the keys in the user's trusted-keys file
    (if there is one) and the ``extra`` key lines the user passed (``--trust-key``)."""
    signer = signer or load_or_create()
    trusted = TrustedKeys([signer.public_raw])
    trusted.add_file(trusted_file or default_trusted_path(), missing_ok=trusted_file is None)
    for line in extra:
        trusted.add_text(line)
    return trusted
