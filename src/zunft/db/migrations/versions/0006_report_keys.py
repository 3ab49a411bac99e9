"""Problem reports join retention: a report's text and position are encrypted under the
content key of its erasure unit, like the messages of its project chat, so the daily job and
GDPR erasures can destroy them (docs/compliance.md, "Aufbewahrung").

Existing reports keep their data-key ciphertexts (content_key NULL); the daily job moves
them into their units (zunft.retention.erasure.do_migrate_legacy_reports), since a migration
has no key-encryption key.

Revision ID: 0006_report_keys
Revises: 0005_search_index
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_report_keys"
down_revision = "0005_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("content_key", sa.LargeBinary(length=16), nullable=True))
    op.add_column("reports", sa.Column("erased_at", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_reports_content_key"), "reports", ["content_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_content_key"), table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("content_key")
