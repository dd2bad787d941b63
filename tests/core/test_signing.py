"""Signed certificates: what verifies, and every way a changed document fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.signing import (
    KEY_ID_FIELD,
    PublicKey,
    SignatureInvalid,
    Signer,
    SigningKeyError,
    canonical,
    generate_private_key,
    key_set,
    parse_key_set,
    verify,
)

PAYLOAD: dict[str, Any] = {
    "kind": "org-deletion", "certificate_id": "c1", "org_id": "o1", "org_name_hash": "ab" * 32,
    "requested_by": "member:m1", "issued_at": "2026-01-01T00:00:00+00:00",
    "workflow_id": "org-teardown-o1", "run_id": "r1",
    "steps": [{"name": "freeze", "status": "done", "done": 1, "total": 1,
               "started_at": "2026-01-01T00:00:00+00:00",
               "finished_at": "2026-01-01T00:00:01+00:00"}],
    "counts": {"api_keys": 2, "dataset_records": 1200}, "verification": {"passed": True},
}


def _signer() -> Signer:
    return Signer.parse(generate_private_key())


def test_a_signed_certificate_verifies_and_names_its_key() -> None:
    signer = _signer()
    document = signer.sign(PAYLOAD)
    body, kid = verify(document, key_set([signer.public]))
    assert kid == signer.public.key_id and body[KEY_ID_FIELD] == kid
    assert {k: v for k, v in body.items() if k != KEY_ID_FIELD} == PAYLOAD
    assert document == canonical(json.loads(document))  # the file is its canonical form
    assert verify(document + b"\n", key_set([signer.public]))[1] == kid


def test_every_changed_byte_fails() -> None:
    signer = _signer()
    keys = key_set([signer.public])
    document = signer.sign(PAYLOAD)
    for at in range(len(document)):
        for replacement in {ord("0"), ord("x"), ord(" ")} - {document[at]}:
            changed = document[:at] + bytes([replacement]) + document[at + 1:]
            with pytest.raises(SignatureInvalid):
                verify(changed, keys)


def test_a_removed_or_added_field_fails() -> None:
    signer = _signer()
    keys = key_set([signer.public])
    parsed = json.loads(signer.sign(PAYLOAD))
    for field in [*PAYLOAD, KEY_ID_FIELD]:
        removed = {**parsed, "certificate": {k: v for k, v in parsed["certificate"].items()
                                             if k != field}}
        with pytest.raises(SignatureInvalid):
            verify(canonical(removed), keys)
    added = {**parsed, "certificate": {**parsed["certificate"], "note": "x"}}
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(canonical(added), keys)
    with pytest.raises(SignatureInvalid, match="expected certificate and signature"):
        verify(canonical({**parsed, "extra": 1}), keys)


def test_a_wrong_key_fails() -> None:
    signer, other = _signer(), _signer()
    document = signer.sign(PAYLOAD)
    with pytest.raises(SignatureInvalid, match="not one of the trusted keys"):
        verify(document, key_set([other.public]))
    # a key set that files the other key under the signer's id is not fooled either
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(document, {signer.public.key_id: other.public})


def test_key_rotation_keeps_old_certificates_checkable() -> None:
    old, new = _signer(), _signer()
    before, after = old.sign(PAYLOAD), new.sign(PAYLOAD)
    published = {"keys": [new.public.published(), old.public.published()]}
    keys = parse_key_set(json.loads(json.dumps(published)))
    assert verify(before, keys)[1] == old.public.key_id
    assert verify(after, keys)[1] == new.public.key_id
    with pytest.raises(SignatureInvalid):
        verify(before, key_set([new.public]))


def test_malformed_keys_and_documents_are_refused() -> None:
    with pytest.raises(SigningKeyError):
        PublicKey.parse("c2hvcnQ")
    with pytest.raises(SigningKeyError):
        Signer.parse("not base64 at all!")
    with pytest.raises(SigningKeyError):
        parse_key_set({"keys": [{"key_id": "x"}]})
    keys = key_set([_signer().public])
    for junk in (b"", b"\xff\xfe", b"[]", b'{"certificate":{},"signature":1}'):
        with pytest.raises(SignatureInvalid):
            verify(junk, keys)
