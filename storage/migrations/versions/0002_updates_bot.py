"""Processed update ids are scoped to the bot: key (bot_id, update_id).

Telegram numbers updates per bot; keyed by update id alone, a database reused with another token
took the new bot's first updates for redeliveries of the old one's and skipped them. Rows recorded
before this revision get bot_id 0 (the bot that wrote them is not known); they are trimmed by age
like the others.

Revision ID: 0002_updates_bot
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_updates_bot"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates", recreate="auto") as batch:
        batch.add_column(
            sa.Column("bot_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch.drop_constraint("pk_processed_updates", type_="primary")
        batch.create_primary_key("pk_processed_updates", ["bot_id", "update_id"])


def downgrade() -> None:
    # Back to one row per update id: keep the latest of each (ids of several bots collapse).
    op.execute(
        "DELETE FROM processed_updates WHERE EXISTS (SELECT 1 FROM processed_updates AS later "
        "WHERE later.update_id = processed_updates.update_id "
        "AND (later.processed_at > processed_updates.processed_at "
        "OR (later.processed_at = processed_updates.processed_at "
        "AND later.bot_id > processed_updates.bot_id)))"
    )
    with op.batch_alter_table("processed_updates", recreate="auto") as batch:
        batch.drop_constraint("pk_processed_updates", type_="primary")
        batch.drop_column("bot_id")
        batch.create_primary_key("pk_processed_updates", ["update_id"])
