"""The search index becomes a follower of the journal (zunft.search.index): postings
clustered on their key, one row per indexed message for taking postings out again, and the
indexer's position per business. The old `search_tokens` rows are dropped; the indexer
rebuilds the index from the journal when it starts.

Revision ID: 0005_search_index
Revises: 0004_retention
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_search_index"
down_revision = "0004_retention"
branch_labels = None
depends_on = None

ID = sa.String(length=26)


def upgrade() -> None:
    op.drop_index(op.f("ix_search_tokens_message_id"), table_name="search_tokens")
    op.drop_table("search_tokens")
    op.create_table(
        "search_postings",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("token", sa.LargeBinary(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "token", "seq", name=op.f("pk_search_postings")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "search_docs",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("tokens", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", name=op.f("pk_search_docs")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "search_progress",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("erased_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_search_progress")),
    )


def downgrade() -> None:
    op.drop_table("search_progress")
    op.drop_table("search_docs")
    op.drop_table("search_postings")
    op.create_table(
        "search_tokens",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("token", sa.LargeBinary(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_search_tokens_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "token", "seq", name=op.f("pk_search_tokens")),
    )
    op.create_index(
        op.f("ix_search_tokens_message_id"), "search_tokens", ["message_id"], unique=False
    )
