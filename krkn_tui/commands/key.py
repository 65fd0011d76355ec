"""`krkn-tui key show`: the operator's public key line, to hand to a guard's trusted keys or a
colleague's ``--trust-key`` (the private key is made on first use and never printed)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("key", help="the operator signing key of journal entries and states")
    verbs = p.add_subparsers(dest="key_command", metavar="COMMAND", required=True)
    show = verbs.add_parser("show", help="print your public key line and its id (making the key on first use)")
    show.add_argument("--key", type=Path, metavar="FILE",
                      help="the signing key file (default: ~/.config/krkn-tui/signing-key)")
    show.set_defaults(func=cmd_show)


def cmd_show(args) -> int:
    from ..rollback.front import SigningError, load_or_create

    try:
        signer = load_or_create(args.key)
    except SigningError as e:
        raise UserError(str(e), field="--key") from None
    except OSError as e:
        raise UserError(f"cannot make or read it: {e.strerror or e}", file=args.key) from None
    print(f"{signer.public_text}  # key id {signer.key_id}")
    return 0
