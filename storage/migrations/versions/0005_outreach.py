"""Outreach: invitation links by source (`invitation_links`, `link_starts`,
`participants.link_id`) and broadcasts narrowed by answers or source, or carrying a document
(`broadcasts.target_where`, `target_source`, `document`).

Revision ID: 0005_outreach
Revises: 0004_web_channel
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0005_outreach"
down_revision: str | Sequence[str] | None = "0004_web_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_invitation_links_survey_id_surveys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_links")),
        sa.UniqueConstraint("code", name=op.f("uq_invitation_links_code")),
    )
    op.create_index(
        op.f("ix_invitation_links_survey_id_source"),
        "invitation_links",
        ["survey_id", "source"],
    )
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("link_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_participants_link_id_invitation_links"),
            "invitation_links",
            ["link_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "link_starts",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["invitation_links.id"],
            name=op.f("fk_link_starts_link_id_invitation_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_link_starts_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "participant_id", name=op.f("pk_link_starts")),
    )
    op.create_index(op.f("ix_link_starts_participant_id"), "link_starts", ["participant_id"])
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("target_where", sa.Text(), nullable=True))
        batch.add_column(sa.Column("target_source", sa.String(100), nullable=True))
        batch.add_column(sa.Column("document", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("document")
        batch.drop_column("target_source")
        batch.drop_column("target_where")
    op.drop_index(op.f("ix_link_starts_participant_id"), table_name="link_starts")
    op.drop_table("link_starts")
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint(op.f("fk_participants_link_id_invitation_links"), type_="foreignkey")
        batch.drop_column("link_id")
    op.drop_index(op.f("ix_invitation_links_survey_id_source"), table_name="invitation_links")
    op.drop_table("invitation_links")
