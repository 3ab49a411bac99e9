"""A project's master data (name, address, customer name) joins retention: it is encrypted
under the project's own content key, destroyed once the project is completed, its business
letters' period has ended and nothing of its chats is kept any more (docs/compliance.md).

Existing projects keep their data-key ciphertexts (content_key NULL); the daily job moves
them (zunft.retention.erasure.do_migrate_legacy_projects).

Revision ID: 0007_project_keys
Revises: 0006_report_keys
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_project_keys"
down_revision = "0006_report_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("content_key", sa.LargeBinary(length=16), nullable=True))
    op.add_column("projects", sa.Column("erased_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("content_key")
