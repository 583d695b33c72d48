"""incident full-text search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

An FTS5 index over incident text, kept current by triggers so every write path (the app, sync,
bulk loads) updates it. unicode61 folds case for all of Cyrillic, Kazakh letters included
(SQLite's own LIKE and lower() are ASCII-only); ё is folded to е because people type either.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Same expression in every trigger: what the index sees of an incident.
_BODY = (
    "replace(replace(coalesce({r}.description, '') || ' ' || coalesce({r}.reporter, '') || ' ' "
    "|| coalesce({r}.witnesses, ''), 'ё', 'е'), 'Ё', 'Е')"
)


def upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE incident_fts USING fts5("
        "body, tokenize='unicode61 remove_diacritics 0')"
    )
    new, old = _BODY.format(r="new"), _BODY.format(r="old")
    op.execute(
        f"CREATE TRIGGER incident_fts_insert AFTER INSERT ON incident BEGIN "
        f"INSERT INTO incident_fts(rowid, body) VALUES (new.num, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER incident_fts_delete AFTER DELETE ON incident BEGIN "
        "DELETE FROM incident_fts WHERE rowid = old.num; END"
    )
    op.execute(
        f"CREATE TRIGGER incident_fts_update AFTER UPDATE OF description, reporter, witnesses "
        f"ON incident WHEN {old} IS NOT {new} BEGIN "
        f"UPDATE incident_fts SET body = {new} WHERE rowid = new.num; END"
    )
    op.execute(
        "INSERT INTO incident_fts(rowid, body) "
        f"SELECT num, {_BODY.format(r='incident')} FROM incident"
    )


def downgrade() -> None:
    for trigger in ("incident_fts_insert", "incident_fts_delete", "incident_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS incident_fts")
