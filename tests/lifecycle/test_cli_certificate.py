"""`lifecycle certificate`: a new key, and an offline check that names the signing key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.signing import Signer
from lifecycle.certificate_cli import dev_signing_key
from lifecycle.cli import main

PAYLOAD = {"kind": "org-deletion", "certificate_id": "c1", "org_id": "o1",
           "issued_at": "2026-01-01T00:00:00+00:00", "counts": {"api_keys": 1}}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _new_signer(capsys: pytest.CaptureFixture[str]) -> Signer:
    code, out, _ = _run(capsys, "certificate", "new-key")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("LIFECYCLE_CERTIFICATE_SIGNING_KEY="))
    signer = Signer.parse(line.split("=", 1)[1])
    assert signer.public.key_id in out and signer.public.encoded in out
    return signer


def test_verify_with_a_saved_key_set(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFECYCLE_CERTIFICATE_SIGNING_KEY", raising=False)
    monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(tmp_path / "data"))
    old, new = _new_signer(capsys), _new_signer(capsys)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [new.public.published(), old.public.published()]}))
    cert = tmp_path / "cert.json"
    cert.write_bytes(old.sign(PAYLOAD))

    code, out, _ = _run(capsys, "certificate", "verify", str(cert), "--keys", str(keys))
    assert code == 0, out
    assert f"signed by key {old.public.key_id}" in out and "certificate c1 for o1" in out

    changed = bytearray(cert.read_bytes())
    changed[changed.index(b'"api_keys":1') + len('"api_keys":')] = ord("2")
    cert.write_bytes(bytes(changed))
    code, out, _ = _run(capsys, "certificate", "verify", str(cert), "--keys", str(keys))
    assert code == 1 and out.startswith("NOT VALID: the signature does not match")

    # no key set and no keys in the settings: nothing to check against
    code, _, err = _run(capsys, "certificate", "verify", str(cert))
    assert code == 2 and "--keys" in err


def test_verify_with_the_keys_of_the_settings(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(tmp_path / "data"))
    rotated, current = _new_signer(capsys), _new_signer(capsys)
    monkeypatch.setenv("LIFECYCLE_CERTIFICATE_PUBLIC_KEYS",
                       json.dumps([rotated.public.encoded]))
    cert = tmp_path / "cert.json"
    cert.write_bytes(rotated.sign(PAYLOAD))
    monkeypatch.delenv("LIFECYCLE_CERTIFICATE_SIGNING_KEY", raising=False)
    code, out, _ = _run(capsys, "certificate", "verify", str(cert))
    assert code == 0 and rotated.public.key_id in out

    # the key `lifecycle dev` generated in the data directory is trusted too
    (tmp_path / "data").mkdir()
    dev = Signer.parse(dev_signing_key(tmp_path / "data", create=True))
    assert dev_signing_key(tmp_path / "data", create=False) == dev_signing_key(
        tmp_path / "data", create=True)
    cert.write_bytes(dev.sign(PAYLOAD))
    code, out, _ = _run(capsys, "certificate", "verify", str(cert))
    assert code == 0 and dev.public.key_id in out
    cert.write_bytes(current.sign(PAYLOAD))
    code, out, _ = _run(capsys, "certificate", "verify", str(cert))
    assert code == 1 and "not one of the trusted keys" in out


def test_a_malformed_key_setting_is_one_line(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_CERTIFICATE_PUBLIC_KEYS", '["short"]')
    code, _, err = _run(capsys, "certificate", "new-key")
    assert code == 2 and "LIFECYCLE_CERTIFICATE_PUBLIC_KEYS" in err and err.count("\n") == 1
