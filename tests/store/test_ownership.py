"""The unregistered-table guard: every table that can reach an org must say what happens to it."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, MetaData, String, Table

import store.models  # noqa: F401  (registers every table on the metadata)
from store.base import Base
from store.ownership import OWNED, RETAINED


def unregistered(metadata: MetaData) -> list[str]:
    """Tables with a foreign-key path to organizations or projects and no registration."""
    reaches = {"organizations"}
    changed = True
    while changed:
        changed = False
        for table in metadata.sorted_tables:
            if table.name in reaches:
                continue
            if any(fk.column.table.name in reaches for fk in table.foreign_keys):
                reaches.add(table.name)
                changed = True
    # a plain org_id column without a foreign key is an org reference too
    reaches |= {t.name for t in metadata.sorted_tables if "org_id" in t.c}
    return sorted(name for name in reaches if name not in OWNED and name not in RETAINED)


def test_every_org_reaching_table_is_registered() -> None:
    assert unregistered(Base.metadata) == []


def test_guard_catches_a_new_unregistered_table() -> None:
    """A table added without registration (here only inside this test) is reported."""
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table("project_notes", metadata, Column("id", String(32), primary_key=True),
          Column("project_id", ForeignKey("projects.id")))
    Table("note_tags", metadata, Column("id", String(32), primary_key=True),
          Column("note_id", ForeignKey("project_notes.id")))
    assert unregistered(metadata) == ["note_tags", "project_notes"]


def test_owned_chains_end_at_organizations() -> None:
    tables = Base.metadata.tables
    for name, ownership in OWNED.items():
        table = tables[name]
        for column_name in ownership.chain[:-1]:
            (fk,) = table.c[column_name].foreign_keys
            table = fk.column.table
        if ownership.chain[-1] == "id":
            assert table.name == "organizations", name
        else:
            (fk,) = table.c[ownership.chain[-1]].foreign_keys
            assert fk.column.table.name == "organizations", name
