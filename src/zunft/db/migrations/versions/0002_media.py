"""Media: uploads in progress, stored files (blobs), their gallery tags, message
attachments and per-business media limits.

Revision ID: 0002_media
Revises: 0003_customers (the branches were merged customers first)
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_media"
down_revision = "0003_customers"
branch_labels = None
depends_on = None

ID = sa.String(length=26)


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("meta_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_uploads_chat_id_chats")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_uploads_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_uploads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_tenant_id"), "uploads", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_uploads_expires_at"), "uploads", ["expires_at"], unique=False)
    op.create_table(
        "blobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("uploader_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("segment_size", sa.Integer(), nullable=False),
        sa.Column("sha256_enc", sa.LargeBinary(), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("caption_enc", sa.LargeBinary(), nullable=True),
        sa.Column("meta_enc", sa.LargeBinary(), nullable=False),
        sa.Column("derivatives", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_blobs_chat_id_chats")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_blobs_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_blobs_uploader_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blobs")),
    )
    op.create_index(
        op.f("ix_blobs_chat_id_created_at"), "blobs", ["chat_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_blobs_tenant_id"), "blobs", ["tenant_id"], unique=False)
    op.create_table(
        "blob_tags",
        sa.Column("blob_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.id"], name=op.f("fk_blob_tags_blob_id_blobs")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_blob_tags_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("blob_id", "tag", name=op.f("pk_blob_tags")),
    )
    op.create_index(
        op.f("ix_blob_tags_tenant_id_tag"), "blob_tags", ["tenant_id", "tag"], unique=False
    )
    op.create_table(
        "message_attachments",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("blob_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blobs.id"], name=op.f("fk_message_attachments_blob_id_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_attachments_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_message_attachments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("message_id", "position", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        op.f("ix_message_attachments_blob_id"), "message_attachments", ["blob_id"], unique=False
    )
    op.create_table(
        "media_limits",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("quota_mb", sa.Integer(), nullable=True),
        sa.Column("file_limits", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_media_limits_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_media_limits")),
    )


def downgrade() -> None:
    op.drop_table("media_limits")
    op.drop_table("message_attachments")
    op.drop_table("blob_tags")
    op.drop_table("blobs")
    op.drop_table("uploads")
