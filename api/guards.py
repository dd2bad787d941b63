"""Store lookups turned into problems, shared by every router (see `services.guards`).

Routes call these instead of the repository functions directly so a missing org is always the
same 404 and a write to a frozen org always the same 403 `org-frozen` problem.
"""

from __future__ import annotations

from services.guards import org_or_404, project_or_404, writable_org, writable_project

__all__ = ["org_or_404", "project_or_404", "writable_org", "writable_project"]
