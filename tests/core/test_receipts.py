"""Certificate receipts: good for one org until they expire, and unforgeable without the pepper."""

from __future__ import annotations

from core.receipts import make_receipt, receipt_org

PEPPER = b"p" * 32


def test_a_receipt_names_its_org_until_it_expires() -> None:
    token = make_receipt("org1", 1_000, PEPPER)
    assert receipt_org(token, PEPPER, now=999) == "org1"
    assert receipt_org(token, PEPPER, now=1_000) == "org1"
    assert receipt_org(token, PEPPER, now=1_001) is None


def test_changed_or_foreign_receipts_are_refused() -> None:
    token = make_receipt("org1", 1_000, PEPPER)
    assert receipt_org(token, b"q" * 32, now=0) is None  # another server's pepper
    assert receipt_org(token.replace(".1000.", ".9999."), PEPPER, now=0) is None
    assert receipt_org(token.replace("org1", "org2"), PEPPER, now=0) is None
    assert receipt_org("olt_" + token[4:], PEPPER, now=0) is None
    assert receipt_org("olc_garbage", PEPPER, now=0) is None
