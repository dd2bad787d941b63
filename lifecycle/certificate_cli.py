"""`lifecycle certificate verify|new-key`: check a deletion certificate offline; make a key.

`verify` needs nothing but the file and the public keys: the document served at
`/.well-known/lifecycle-certificate-keys`, saved with `--keys`, or else the keys these settings
trust (the signing key's own, `LIFECYCLE_CERTIFICATE_PUBLIC_KEYS`, and the key `lifecycle dev`
generated in the data directory). It says which key signed
the certificate, or why it does not verify (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.settings import DEV_SIGNING_KEY_FILE, Settings
from core.signing import (
    PublicKey,
    SignatureInvalid,
    Signer,
    SigningKeyError,
    generate_private_key,
    parse_key_set,
    verify,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="certificate_command", required=True)
    check = sub.add_parser("verify", help="check a signed certificate file offline and say "
                                          "which key signed it")
    check.add_argument("file", type=Path, help="the certificate as served (its `signed` field)")
    check.add_argument("--keys", type=Path, metavar="FILE",
                       help="the public key set saved from /.well-known/lifecycle-certificate-"
                            "keys (default: the keys of these settings)")
    sub.add_parser("new-key", help="print a new signing key for "
                                   "LIFECYCLE_CERTIFICATE_SIGNING_KEY and its public key")


def dev_signing_key(data_dir: Path, *, create: bool) -> str:
    """The signing key `lifecycle dev` keeps in its data directory (owner-only), made on first
    use when `create`; empty when there is none. It outlives the stack on purpose: the
    certificates it signed must stay checkable."""
    path = data_dir / DEV_SIGNING_KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    if not create:
        return ""
    key = generate_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def trusted_keys(settings: Settings) -> dict[str, PublicKey]:
    """The keys of the settings, and the one `lifecycle dev` keeps in the data directory."""
    dev_key = dev_signing_key(settings.data_dir, create=False)
    extra = [Signer.parse(dev_key).public] if dev_key else []
    return {**settings.certificate_keys, **{k.key_id: k for k in extra}}


def _keys(args: argparse.Namespace, settings: Settings) -> dict[str, PublicKey]:
    if args.keys is None:
        return trusted_keys(settings)
    try:
        return parse_key_set(json.loads(args.keys.read_text()))
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot read the key set {args.keys}: {exc}") from None


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        keys = _keys(args, settings)
        document = args.file.read_bytes()
    except (OSError, SigningKeyError) as exc:
        print(f"lifecycle: {exc}", file=sys.stderr)
        return 2
    if not keys:
        print("lifecycle: no public keys to check with: pass --keys FILE", file=sys.stderr)
        return 2
    try:
        body, kid = verify(document, keys)
    except SignatureInvalid as exc:
        print(f"NOT VALID: {exc}")
        return 1
    subject = body.get("project_id") or body.get("org_id")
    print(f"valid: {body.get('kind')} certificate {body.get('certificate_id')} for {subject}, "
          f"issued {body.get('issued_at')}, signed by key {kid}")
    return 0


def _new_key() -> int:
    private = generate_private_key()
    public = Signer.parse(private).public
    print(f"LIFECYCLE_CERTIFICATE_SIGNING_KEY={private}")
    print(f"# public key {public.encoded} (key id {public.key_id}): after a rotation, keep it "
          "in LIFECYCLE_CERTIFICATE_PUBLIC_KEYS")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.certificate_command == "new-key":
        return _new_key()
    return _verify(args, settings)
