"""Retention: document classes, per-business rules, content keys per erasure unit
(crypto-shredding), legal holds and GDPR requests.

Existing rows keep their data-key ciphertexts (content_key NULL); the daily job moves them
to content keys in batches (zunft.retention.erasure.do_migrate_legacy), since a migration
has no key-encryption key and imports no app code.

Revision ID: 0004_retention
Revises: 0002_media
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_retention"
down_revision = "0002_media"
branch_labels = None
depends_on = None

ID = sa.String(length=26)


def upgrade() -> None:
    op.add_column("chats", sa.Column("doc_class", sa.String(length=16), nullable=True))
    for table in ("messages", "blobs"):
        op.add_column(table, sa.Column("doc_class", sa.String(length=16), nullable=True))
        op.add_column(table, sa.Column("content_key", sa.LargeBinary(length=16), nullable=True))
        op.add_column(table, sa.Column("erased_at", sa.BigInteger(), nullable=True))
        op.create_index(op.f(f"ix_{table}_content_key"), table, ["content_key"], unique=False)
    op.add_column(
        "journal_payloads", sa.Column("content_key", sa.LargeBinary(length=16), nullable=True)
    )
    op.create_index(
        op.f("ix_journal_payloads_content_key"), "journal_payloads", ["content_key"], unique=False
    )
    op.create_table(
        "retention_rules",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("doc_class", sa.String(length=16), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_retention_rules_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "doc_class", name=op.f("pk_retention_rules")),
    )
    op.create_table(
        "content_keys",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("doc_class", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("blob_id", ID, nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("destroyed_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_content_keys_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_content_keys_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_content_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_keys")),
    )
    op.create_index(
        op.f("ix_content_keys_tenant_id_chat_id_doc_class_year_author_id"),
        "content_keys",
        ["tenant_id", "chat_id", "doc_class", "year", "author_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_content_keys_tenant_id_doc_class_year"),
        "content_keys",
        ["tenant_id", "doc_class", "year"],
        unique=False,
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("set_by", ID, nullable=True),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.Column("lifted_by", ID, nullable=True),
        sa.Column("lifted_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_legal_holds_lifted_by_users")
        ),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_legal_holds_set_by_users")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_legal_holds_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(
        op.f("ix_legal_holds_tenant_id_target_id"),
        "legal_holds",
        ["tenant_id", "target_id"],
        unique=False,
    )
    op.create_table(
        "gdpr_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("requested_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("erase_rest_at", sa.BigInteger(), nullable=True),
        sa.Column("done_at", sa.BigInteger(), nullable=True),
        sa.Column("answer_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_gdpr_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_gdpr_requests_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_gdpr_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_requests")),
    )
    op.create_index(
        op.f("ix_gdpr_requests_tenant_id_user_id"),
        "gdpr_requests",
        ["tenant_id", "user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("gdpr_requests")
    op.drop_table("legal_holds")
    op.drop_table("content_keys")
    op.drop_table("retention_rules")
    op.drop_index(op.f("ix_journal_payloads_content_key"), table_name="journal_payloads")
    with op.batch_alter_table("journal_payloads") as batch:
        batch.drop_column("content_key")
    for table in ("messages", "blobs"):
        op.drop_index(op.f(f"ix_{table}_content_key"), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("erased_at")
            batch.drop_column("content_key")
            batch.drop_column("doc_class")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("doc_class")
