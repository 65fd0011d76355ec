"""Operator keys and signatures (pure logic, no cluster)."""

from __future__ import annotations

import os
import stat

import pytest

from krkn_tui.rollback import signing


def test_key_is_made_once_private_and_reloaded(tmp_path):
    path = tmp_path / "cfg" / "signing-key"
    first = signing.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    again = signing.load_or_create(path)
    assert again.public_text == first.public_text and again.key_id == first.key_id


def test_a_key_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "signing-key"
    signing.load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(signing.SigningError, match="readable by others"):
        signing.load_or_create(path)


def test_signature_checks_payload_and_key(tmp_path):
    me = signing.load_or_create(tmp_path / "a")
    other = signing.load_or_create(tmp_path / "b")
    trusted = signing.TrustedKeys([me.public_raw])
    obj = {"op": "x.y", "data": {"n": 1}}
    sig = me.sign_obj(obj)
    assert trusted.check_obj(obj, sig)[0].key_id == me.key_id
    assert trusted.check_obj({**obj, "data": {"n": 2}}, sig) == (None, f"bad signature for key {me.key_id}")
    assert trusted.check_obj(obj, other.sign_obj(obj))[1].startswith("signed by unknown key")
    assert trusted.check_obj(obj, None)[1] == "unsigned"
    assert trusted.check_obj(obj, "garbage")[1] == "malformed signature"
    # The key id in the text cannot be swapped for a trusted one.
    forged = f"ed25519:{me.key_id}:" + other.sign_obj(obj).split(":")[2]
    assert trusted.check_obj(obj, forged)[0] is None


def test_nan_is_not_signable():
    with pytest.raises(signing.SigningError):
        signing.canonical({"x": float("nan")})


def test_trusted_keys_file_names_the_bad_line(tmp_path):
    good = signing.load_or_create(tmp_path / "k").public_text
    f = tmp_path / "trusted"
    f.write_text(f"# team\n{good}\ned25519:AAAA\n")
    with pytest.raises(signing.SigningError, match=r"trusted:3: public key is 3 bytes"):
        signing.TrustedKeys().add_file(f)
