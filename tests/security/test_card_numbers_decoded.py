"""A card number is refused in its decoded form, with any run of separators, before any write.

The card check once scanned the raw body, so digits sent as JSON escapes (`"\\u0034\\u0031..."`)
got through and the provider token column held `4111111111111111`; and it allowed single
separators only, so `4111_1111_1111_1111` and `4111--1111--...` were stored as tokens.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.console.security import csrf_token
from core.cards import contains_card_number
from core.settings import Settings
from services.seeding import _payloads as seed_payloads
from store.models import Organization, PaymentMethod
from tests.security.hostile import CARD_NUMBERS, SHAPES, json_with_escaped
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.db_snapshot import changed, fingerprint

CARD = {"brand": "visa", "last4": "1111", "exp_month": 12, "exp_year": 2099}
JSON = {"Content-Type": "application/json"}


def test_the_detector_sees_every_shape_and_not_ordinary_numbers() -> None:
    for shape in SHAPES:
        assert contains_card_number(shape), shape
    for fine in ("123456789012345678901234567890", "2026-12-01T10:00:00Z", "tok_1N3x9Q",
                 "5d1e0a3b9c8e4f7a6b5c4d3e2f1a0b9c", "order 4111"):
        assert not contains_card_number(fine), fine


def test_the_consoles_own_form_tokens_are_never_taken_for_a_card() -> None:
    """A form token is 64 hex characters; about one in 250 holds a Luhn-valid run of digits,
    and refusing it would refuse that form for no reason the user could fix."""
    tokens = [csrf_token(b"a-pepper-of-the-test", f"binding-{i}") for i in range(5_000)]
    assert [t for t in tokens if contains_card_number(t)] == []
    inside = "ab" + "4111111111111111" + "c" * 46
    assert len(inside) == 64 and not contains_card_number(inside)
    assert contains_card_number("ab4111111111111111"), "a card beside letters is still a card"


async def test_escaped_and_separated_card_numbers_are_refused_and_not_stored(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    path = f"/orgs/{org_id}/payment-method"
    async with api_client(api_settings(settings)) as api:
        fine = await api.put(path, headers=admin, json={"token": "tok_before", **CARD})
        assert fine.status_code == 200, fine.text
        before = fingerprint(session_factory)
        answers = [await api.put(path, headers={**admin, **JSON},
                                 content=json_with_escaped(CARD, "token", number))
                   for number in CARD_NUMBERS]
        answers += [await api.put(path, headers=admin, json={"token": shape, **CARD})
                    for shape in SHAPES[:2]]
        # the decoded value of every string field counts, not only the token's
        answers.append(await api.patch(f"/orgs/{org_id}", headers={**admin, **JSON},
                                       content=json_with_escaped({}, "description", SHAPES[5])))
        answers.append(await api.put(path, headers={**admin, **JSON},
                                     content=json_with_escaped({"token": "tok_x", **CARD},
                                                               "brand", "4111 1111 1111 1111")))
        after = fingerprint(session_factory)
    for answer in answers:
        body = problem(answer, 422)
        assert body["type"].endswith(("card-number-refused", "invalid-input")), body
        assert "1111" not in answer.text and "4444" not in answer.text  # never echoed
    assert changed(before, after) == []
    with session_factory() as session:
        assert session.scalars(select(PaymentMethod.provider_token).where(
            PaymentMethod.org_id == org_id)).all() == ["tok_before"]
        description = session.scalars(select(Organization.description).where(
            Organization.id == org_id)).one()
        assert not contains_card_number(description)


def test_seeded_record_payloads_never_hold_a_card_number() -> None:
    """Demo and test orgs are scanned for card numbers like any other data."""
    payloads = [p.decode() for seed in range(200) for p in seed_payloads(random.Random(seed))]
    assert [p for p in payloads if contains_card_number(p)] == []
