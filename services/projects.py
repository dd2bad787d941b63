"""Projects: create (one or many), rename. Reads go straight to `store.projects`.

Creating takes a list so the seed command's thousand projects and the API's one go through
the same checks, the same insert and the same audit events (one per project).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.orm import Session

from core.problems import Conflict
from services.guards import writable_org, writable_project
from services.names import check_name
from store import projects
from store.audit import audit, audit_many
from store.base import utcnow
from store.models import Project


class NameTaken(Conflict):
    slug = "name-taken"
    title = "The name is taken"


def create_projects(session: Session, org_id: str, names: Sequence[str], *,
                    actor: str) -> list[str]:
    """New projects of an active org, named `names` (unique in the org); their ids."""
    writable_org(session, org_id)
    for name in names:
        check_name(name)
    repeated = sorted(n for n, times in Counter(names).items() if times > 1)
    taken = sorted(projects.taken_names(session, org_id, names))
    if repeated or taken:
        raise NameTaken(f"{len(set(repeated) | set(taken))} project name(s) are already used "
                        "in this organization", field="name")
    ids = projects.insert_projects(session, org_id, names, utcnow())
    audit_many(session, actor, "project.created", [(org_id, f"project:{pid}") for pid in ids])
    return ids


def create_project(session: Session, org_id: str, name: str, *, actor: str) -> Project:
    (project_id,) = create_projects(session, org_id, [name], actor=actor)
    project = projects.get_project(session, org_id, project_id)
    assert project is not None  # inserted in this transaction
    return project


def rename_project(session: Session, org_id: str, project_id: str, name: str, *,
                   actor: str) -> Project:
    """Rename an active project; the same name again changes nothing and audits nothing."""
    project = writable_project(session, org_id, project_id)
    check_name(name)
    if name == project.name:
        return project
    if projects.taken_names(session, org_id, [name]):
        raise NameTaken("another project of this organization has that name", field="name")
    project.name = name
    session.flush()
    audit(session, org_id, actor, "project.renamed", f"project:{project_id}")
    return project
