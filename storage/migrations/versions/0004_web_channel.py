"""The web channel: `participants.channel` (`telegram` or `web`) and `participants.web_key`, the
random id of a web participant (held by their cookie, resume link or invitation link); the key
check now wants exactly one of Telegram id, preview name and web key (none once anonymised).

Downgrading refuses while web participants exist: the older schema cannot hold them.

Revision ID: 0004_web_channel
Revises: 0003_retention
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_web_channel"
down_revision: str | Sequence[str] | None = "0003_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CHECK = (
    "(anonymised_at IS NULL AND (telegram_id IS NULL) <> (preview_name IS NULL))"
    " OR (anonymised_at IS NOT NULL AND telegram_id IS NULL AND preview_name IS NULL"
    " AND pseudonym IS NOT NULL)"
)
NEW_CHECK = (
    "(anonymised_at IS NULL AND (CASE WHEN telegram_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN preview_name IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN web_key IS NULL THEN 0 ELSE 1 END) = 1)"
    " OR (anonymised_at IS NOT NULL AND telegram_id IS NULL AND preview_name IS NULL"
    " AND web_key IS NULL AND pseudonym IS NOT NULL)"
)
CHANNEL_CHECK = "channel IN ('telegram', 'web')"


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(
            sa.Column(
                "channel", sa.String(16), nullable=False, server_default=sa.text("'telegram'")
            )
        )
        batch.add_column(sa.Column("web_key", sa.String(64), nullable=True))
        batch.create_unique_constraint(op.f("uq_participants_web_key"), ["web_key"])
        batch.drop_constraint(op.f("ck_participants_one_key"), type_="check")
        batch.create_check_constraint(op.f("ck_participants_one_key"), sa.text(NEW_CHECK))
        batch.create_check_constraint(op.f("ck_participants_channel"), sa.text(CHANNEL_CHECK))


def downgrade() -> None:
    web = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM participants WHERE channel = 'web'"))
        .scalar()
    )
    if web:
        raise RuntimeError(
            f"cannot downgrade below 0004_web_channel: {web} participants answered on the web, "
            "which the older schema cannot hold"
        )
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint(op.f("ck_participants_channel"), type_="check")
        batch.drop_constraint(op.f("ck_participants_one_key"), type_="check")
        batch.create_check_constraint(op.f("ck_participants_one_key"), sa.text(OLD_CHECK))
        batch.drop_constraint(op.f("uq_participants_web_key"), type_="unique")
        batch.drop_column("web_key")
        batch.drop_column("channel")
