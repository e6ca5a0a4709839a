"""Anonymised participants: `participants.anonymised_at` and `participants.pseudonym`, and a key
check that lets an anonymised participant have neither a Telegram id nor a preview name.

Downgrading refuses while anonymised participants exist: the older schema requires every
participant to have a Telegram id or a preview name, and inventing one would be worse.

Revision ID: 0003_retention
Revises: 0002_updates_bot
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0003_retention"
down_revision: str | Sequence[str] | None = "0002_updates_bot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CHECK = "(telegram_id IS NULL) <> (preview_name IS NULL)"
NEW_CHECK = (
    "(anonymised_at IS NULL AND (telegram_id IS NULL) <> (preview_name IS NULL))"
    " OR (anonymised_at IS NOT NULL AND telegram_id IS NULL AND preview_name IS NULL"
    " AND pseudonym IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("anonymised_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pseudonym", sa.String(16), nullable=True))
        batch.drop_constraint(op.f("ck_participants_one_key"), type_="check")
        batch.create_check_constraint(op.f("ck_participants_one_key"), sa.text(NEW_CHECK))


def downgrade() -> None:
    anonymised = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM participants WHERE anonymised_at IS NOT NULL"))
        .scalar()
    )
    if anonymised:
        raise RuntimeError(
            f"cannot downgrade below 0003_retention: {anonymised} participants are anonymised "
            "(no Telegram id), which the older schema does not allow"
        )
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint(op.f("ck_participants_one_key"), type_="check")
        batch.create_check_constraint(op.f("ck_participants_one_key"), sa.text(OLD_CHECK))
        batch.drop_column("pseudonym")
        batch.drop_column("anonymised_at")
