"""The one error hierarchy of the product: RFC 9457 problems, free of any web framework.

Why here, at the bottom: the domain operations in `services/` are shared by the HTTP API, the
web console and the seed command, and must refuse things (a frozen org, an unknown project)
the same way for each of them. They raise these; the API renders them as
`application/problem+json` (`api.problems`), a console page as its own message, and a
caller can branch on `slug` instead of parsing English.
"""

from __future__ import annotations

from typing import Any, ClassVar

TYPE_PREFIX = "urn:org-lifecycle:problem:"


class Problem(Exception):
    """An error the client can act on; subclasses fix `status`, `slug` and `title`.

    `extensions` become extra members of the body (RFC 9457 section 3.2), e.g. the id of the
    workflow that already runs for a 409.
    """

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return TYPE_PREFIX + cls.slug


class BadRequest(Problem):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class InvalidInput(BadRequest):
    """Well-formed but unacceptable input (a card number where a token belongs, a past date)."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class CardNumberRefused(InvalidInput):
    """Something that looks like a full card number was sent: it is never stored or echoed."""

    slug = "card-number-refused"
    title = "A card number was sent"


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class NotPermitted(Problem):
    status = 403
    slug = "not-permitted"
    title = "Not permitted"


class OrgFrozen(NotPermitted):
    """The org is frozen or being deleted: its keys and every write to it are refused."""

    slug = "org-frozen"
    title = "Organization is frozen"


class NotFound(Problem):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    slug = "conflict"
    title = "Conflict"


class ContentTooLarge(Problem):
    status = 413
    slug = "content-too-large"
    title = "Content too large"


class Unavailable(Problem):
    """A dependency (database, Temporal) is down; retrying later may succeed."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class ProjectFrozen(NotPermitted):
    """The project is being deleted: its project keys and every write to it are refused."""

    slug = "project-frozen"
    title = "Project is frozen"


class AdminImmutable(Conflict):
    """The org's admin account is fixed at creation: never changed, demoted or removed."""

    slug = "admin-immutable"
    title = "The admin account cannot be changed"


class TooManyRequests(Problem):
    """A limit counted per client (open sign-up): retrying after the window may succeed."""

    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


class InvitationNotValid(BadRequest):
    """The invitation token is unknown, another org's, used, revoked or expired."""

    slug = "invitation-not-valid"
    title = "This invitation is not valid"


class NameQuarantined(Conflict):
    """The name was an org's that was deleted recently: it is held for a while so nobody can
    pass for the deleted org (its users, its mail, its links still name it)."""

    slug = "name-quarantined"
    title = "This name belonged to a recently deleted organization"
