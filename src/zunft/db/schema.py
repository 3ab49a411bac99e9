"""The tables, as SQLAlchemy Core metadata. Migrations in db/migrations spell the same schema out;
tests/db/test_migrations.py fails when the two drift apart.

Conventions: ids are application-made 26-character strings (zunft.ids.new_id); times are
integer milliseconds since the epoch (UTC); columns ending in _enc hold AES-GCM ciphertexts
(zunft.crypto.envelope), columns ending in _idx hold keyed hashes for equality lookups.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(26)
Millis = BigInteger

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("require_totp_admins", Boolean, nullable=False, default=False),
    Column("created_at", Millis, nullable=False),
)

tenant_keys = Table(
    "tenant_keys",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", Millis, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # staff | customer
    Column("role", String(16), nullable=False),  # owner | office | lead | worker | apprentice
    Column("name_enc", LargeBinary, nullable=False),
    Column("email_enc", LargeBinary, nullable=True),
    Column("email_idx", LargeBinary(16), nullable=True),
    Column("phone_enc", LargeBinary, nullable=True),
    Column("password_hash", String(200), nullable=True),
    Column("totp_secret_enc", LargeBinary, nullable=True),
    Column("totp_enabled", Boolean, nullable=False, default=False),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("last_failed_at", Millis, nullable=True),
    Column("locked_until", Millis, nullable=True),
    Column("disabled_at", Millis, nullable=True),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("tenant_id", "email_idx"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("csrf_hash", LargeBinary(32), nullable=True),
    Column("kind", String(8), nullable=False),  # cookie | bearer
    Column("device_name", String(100), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_seen_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
    Column("revoked_at", Millis, nullable=True),
    Index(None, "user_id"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("note_enc", LargeBinary, nullable=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
    Column("used_at", Millis, nullable=True),
    Column("used_by", ID, ForeignKey("users.id"), nullable=True),
    Column("revoked_at", Millis, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("name_enc", LargeBinary, nullable=False),
    Column("address_enc", LargeBinary, nullable=True),
    Column("customer_name_enc", LargeBinary, nullable=True),
    Column("lead_id", ID, ForeignKey("users.id"), nullable=True),
    Column("status", String(16), nullable=False),  # active | completed | archived
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    # Retention: name, address and customer name are under the project's own content key
    # (content_keys.doc_class "auftrag"; NULL: stored before migration 0007, under the data
    # key). erased_at: they were erased (the name reads "Auftrag vom … (gelöscht)").
    Column("content_key", LargeBinary(16), nullable=True),
    Column("erased_at", Millis, nullable=True),
    Index(None, "tenant_id", "status"),
)

chats = Table(
    "chats",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # project | channel | direct
    Column("project_id", ID, ForeignKey("projects.id"), nullable=True),
    Column(
        "title", String(100), nullable=True
    ),  # channels only; projects and directs derive theirs
    Column("direct_key", String(60), nullable=True),  # "<user a>:<user b>", sorted
    Column("is_default", Boolean, nullable=False, default=False),  # the "Allgemein" channel
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_at", Millis, nullable=False),
    # Document class of its content (docs/compliance.md); NULL: the kind's default.
    Column("doc_class", String(16), nullable=True),
    UniqueConstraint("tenant_id", "direct_key"),
    Index(None, "tenant_id", "kind"),
)

chat_members = Table(
    "chat_members",
    metadata,
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("joined_at", Millis, nullable=False),
    Column("last_read_seq", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("chat_id", "user_id"),
    Index(None, "user_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # journal sequence of the send: the chat's order
    Column("sender_id", ID, ForeignKey("users.id"), nullable=False),
    Column("body_enc", LargeBinary, nullable=False),
    Column("reply_to_id", ID, ForeignKey("messages.id"), nullable=True),
    Column("mentions", Text, nullable=False, default="[]"),  # JSON list of user ids
    Column("mention_all", Boolean, nullable=False, default=False),
    Column("created_at", Millis, nullable=False),
    Column("edited_at", Millis, nullable=True),
    Column("edit_count", Integer, nullable=False, default=0),
    Column("deleted_at", Millis, nullable=True),
    Column("deleted_by", ID, ForeignKey("users.id"), nullable=True),
    # Retention (zunft.retention): the class if reclassified (NULL: the chat's), the content
    # key of its erasure unit (NULL: written before content keys, under the data key), and
    # when its text was erased.
    Column("doc_class", String(16), nullable=True),
    Column("content_key", LargeBinary(16), nullable=True),
    Column("erased_at", Millis, nullable=True),
    Index(None, "content_key"),
    UniqueConstraint("tenant_id", "seq"),
    Index(None, "chat_id", "seq"),
)

message_revisions = Table(
    "message_revisions",
    metadata,
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False),
    Column("rev", Integer, nullable=False),  # 0 is the text as first sent
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("body_enc", LargeBinary, nullable=False),
    Column("written_at", Millis, nullable=False),
    Column("replaced_at", Millis, nullable=False),
    PrimaryKeyConstraint("message_id", "rev"),
)

# The search index (zunft.search.index): derived from the journal by the indexer, never
# written by the send itself. On SQLite these tables live in a file of their own next to the
# database (the same definitions, created there by the indexer); the tables of the same name
# in the main database stay empty. Clustered on their keys (WITHOUT ROWID on SQLite): a
# posting is one B-tree entry, and a query reads chat_id without a second lookup.
search_postings = Table(
    "search_postings",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("token", LargeBinary(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chat_id", ID, nullable=False),
    PrimaryKeyConstraint("tenant_id", "token", "seq"),
    sqlite_with_rowid=False,
)

# What the index holds for each message, so an edit, a deletion or an erasure can take its
# postings out again without the old text (tokens: the 16-byte tokens, concatenated).
search_docs = Table(
    "search_docs",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("message_id", ID, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chat_id", ID, nullable=False),
    Column("tokens", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "message_id"),
    sqlite_with_rowid=False,
)

# How far the index has followed each business's journal: every entry up to `seq` is in it.
# `erased_ms`: erasures up to this time have been taken out (zunft.search.index).
search_progress = Table(
    "search_progress",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("erased_ms", Millis, nullable=False),
)

journal = Table(
    "journal",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", Millis, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor_id", ID, nullable=True),
    Column("chat_id", ID, nullable=True),  # routing for realtime delivery and export filters
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("payload_hash", LargeBinary(32), nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("tenant_id", "seq"),
)

journal_payloads = Table(
    "journal_payloads",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("payload_enc", LargeBinary, nullable=True),  # NULL once erased
    Column("erased_at", Millis, nullable=True),
    # The content key the payload is encrypted with (NULL: the business's data key).
    Column("content_key", LargeBinary(16), nullable=True),
    PrimaryKeyConstraint("tenant_id", "seq"),
    Index(None, "content_key"),
    ForeignKeyConstraint(["tenant_id", "seq"], ["journal.tenant_id", "journal.seq"]),
)

journal_heads = Table(
    "journal_heads",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", LargeBinary(32), nullable=False),
)

client_writes = Table(
    "client_writes",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("request_hash", LargeBinary(32), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response_enc", LargeBinary, nullable=False),
    Column("created_at", Millis, nullable=False),
    PrimaryKeyConstraint("tenant_id", "user_id", "client_id"),
)

# --- customers (issue 6): guests with recorded consent -------------------------------------

# The business's rules for customers, reports and working time (one row per business; absent
# means the defaults of zunft.hours.rules).
business_rules = Table(
    "business_rules",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("hours", Text, nullable=False),  # JSON week: {"mo": [["07:00", "16:00"]], ...}
    Column("reply_minutes", Integer, nullable=False),  # working minutes to answer a customer
    Column("escalation_minutes", Integer, nullable=False),  # working minutes to acknowledge
    Column("updated_at", Millis, nullable=False),
)

consent_texts = Table(
    "consent_texts",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),  # published text; not personal data
    Column("sha256", LargeBinary(32), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=True),
    Column("created_at", Millis, nullable=False),
    PrimaryKeyConstraint("tenant_id", "version"),
)

customer_invitations = Table(
    "customer_invitations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("project_id", ID, ForeignKey("projects.id"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("name_enc", LargeBinary, nullable=True),  # NULL once declined (nothing kept)
    Column("email_enc", LargeBinary, nullable=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
    Column("used_at", Millis, nullable=True),
    Column("used_by", ID, ForeignKey("users.id"), nullable=True),
    Column("declined_at", Millis, nullable=True),
    Column("revoked_at", Millis, nullable=True),
    # Set: a link for another device of this existing customer (no new account, same chats).
    Column("customer_id", ID, ForeignKey("users.id"), nullable=True),
    Index(None, "tenant_id", "project_id"),
)

# A customer is a users row (kind "customer", role "customer") plus this row: the consent
# in force and its withdrawal.
customers = Table(
    "customers",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("invitation_id", ID, ForeignKey("customer_invitations.id"), nullable=False),
    Column("consent_version", Integer, nullable=False),
    Column("consent_sha256", LargeBinary(32), nullable=False),
    Column("consent_at", Millis, nullable=False),
    Column("withdrawn_at", Millis, nullable=True),
    Index(None, "tenant_id"),
)

customer_chats = Table(
    "customer_chats",
    metadata,
    Column("chat_id", ID, ForeignKey("chats.id"), primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("customer_id", ID, ForeignKey("users.id"), nullable=False),
    Column("project_id", ID, ForeignKey("projects.id"), nullable=False),
    Index(None, "customer_id"),
)

# Reminders already given for an unanswered customer message (stage: lead | office).
customer_reminders = Table(
    "customer_reminders",
    metadata,
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("created_at", Millis, nullable=False),
    PrimaryKeyConstraint("message_id", "stage"),
)

# --- working hours and notifications --------------------------------------------------------

working_hours = Table(
    "working_hours",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("hours", Text, nullable=False),  # JSON week, as business_rules.hours
    Column("updated_at", Millis, nullable=False),
)

# What a person is to be told; delivery channels (push, e-mail) are a later issue and read
# from here. deliver_after honours the recipient's working hours (urgent ones: at once).
notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("ref_id", ID, nullable=False),
    Column("urgent", Boolean, nullable=False, default=False),
    Column("created_at", Millis, nullable=False),
    Column("deliver_after", Millis, nullable=False),
    Column("read_at", Millis, nullable=True),
    Index(None, "user_id", "deliver_after"),
)

# --- problem reports (Meldungen) ------------------------------------------------------------

report_categories = Table(
    "report_categories",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("name", String(60), nullable=False),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

# category: a built-in key (mangel, ...) or a report_categories.id. target_kind: user | role |
# category (handled like another category: the one kind of rule that can loop).
routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("category", String(26), nullable=False),
    Column("project_id", ID, ForeignKey("projects.id"), nullable=True),
    Column("target_kind", String(16), nullable=False),
    Column("target", String(26), nullable=False),
    Column("created_at", Millis, nullable=False),
    Index(None, "tenant_id", "category"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("project_id", ID, ForeignKey("projects.id"), nullable=False),
    Column("number", Integer, nullable=False),  # per business: "Meldung 12"
    Column("category", String(26), nullable=False),
    Column("priority", String(16), nullable=False),  # normal | dringend
    Column("text_enc", LargeBinary, nullable=False),
    Column("position_enc", LargeBinary, nullable=True),
    Column("photo_ids", Text, nullable=False, default="[]"),  # JSON list of attachment ids
    Column("source_message_id", ID, ForeignKey("messages.id"), nullable=True),
    Column("status", String(16), nullable=False),  # offen | angenommen | in_arbeit | erledigt
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("chain", Text, nullable=False),  # JSON list of user ids, the escalation order
    Column("chain_pos", Integer, nullable=False),
    Column("assignee_id", ID, ForeignKey("users.id"), nullable=True),
    Column("assigned_at", Millis, nullable=True),
    Column("ack_due_at", Millis, nullable=True),  # NULL: acknowledged, or nobody left to ask
    Column("acknowledged_at", Millis, nullable=True),
    # Retention: text and position are encrypted under the content key of the erasure unit
    # (team chat, geschaeftsbrief, year, author); NULL: stored before migration 0006, under
    # the data key (the daily job moves them). erased_at: text and position were erased.
    Column("content_key", LargeBinary(16), nullable=True),
    Column("erased_at", Millis, nullable=True),
    Index(None, "content_key"),
    UniqueConstraint("tenant_id", "number"),
    Index(None, "tenant_id", "status"),
    Index(None, "project_id"),
)

report_history = Table(
    "report_history",
    metadata,
    Column("report_id", ID, ForeignKey("reports.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("at", Millis, nullable=False),
    Column("kind", String(24), nullable=False),  # created | routed | escalated | status
    Column("actor_id", ID, nullable=True),
    Column("detail", Text, nullable=False),  # JSON
    PrimaryKeyConstraint("report_id", "n"),
)
# --- media (docs/media.md) ---------------------------------------------------------------
# File contents live in the blob store (zunft.blobs.store), encrypted in segments; these rows
# say what a file is, where it belongs and who may see it (the chat's viewers).

uploads = Table(
    "uploads",
    metadata,
    Column("id", ID, primary_key=True),  # becomes the file's id when the upload completes
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("length", BigInteger, nullable=False),  # Upload-Length
    Column("offset", BigInteger, nullable=False),  # bytes durably stored
    Column("meta_enc", LargeBinary, nullable=False),  # Upload-Metadata (name, caption) as JSON
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
    Index(None, "tenant_id"),
    Index(None, "expires_at"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("uploader_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # photo | video | voice | document | file
    Column("content_type", String(100), nullable=False),  # from the bytes, never the name
    Column("size", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),  # original + derivatives (quota)
    Column("segment_size", Integer, nullable=False),
    Column("sha256_enc", LargeBinary, nullable=False),  # encrypted: a bare hash confirms a file
    Column("name_enc", LargeBinary, nullable=False),
    Column("caption_enc", LargeBinary, nullable=True),
    Column("meta_enc", LargeBinary, nullable=False),  # width, height, duration, EXIF, GPS
    Column("derivatives", Text, nullable=False, default="{}"),  # JSON: name -> size, type
    Column("taken_at", Millis, nullable=True),  # EXIF capture time, else the upload time
    Column("created_at", Millis, nullable=False),
    # Retention, as for messages: class if reclassified, content key of name/caption/meta,
    # and when the file (contents and description) was erased.
    Column("doc_class", String(16), nullable=True),
    Column("content_key", LargeBinary(16), nullable=True),
    Column("erased_at", Millis, nullable=True),
    Index(None, "content_key"),
    Index(None, "chat_id", "created_at"),
    Index(None, "tenant_id"),
)

blob_tags = Table(
    "blob_tags",
    metadata,
    Column("blob_id", ID, ForeignKey("blobs.id"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("tag", String(40), nullable=False),
    PrimaryKeyConstraint("blob_id", "tag"),
    Index(None, "tenant_id", "tag"),
)

message_attachments = Table(
    "message_attachments",
    metadata,
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("blob_id", ID, ForeignKey("blobs.id"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    PrimaryKeyConstraint("message_id", "position"),
    Index(None, "blob_id"),
)

media_limits = Table(  # per-business overrides of ZUNFT_MEDIA_QUOTA_MB / ZUNFT_FILE_LIMITS_MB
    "media_limits",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), primary_key=True),
    Column("quota_mb", Integer, nullable=True),
    Column("file_limits", String(200), nullable=True),  # "photo=50,video=4096,..."
    Column("updated_at", Millis, nullable=False),
)

# --- retention, legal hold, erasure, GDPR requests (docs/compliance.md) --------

retention_rules = Table(  # a business's own periods; classes without a row use the defaults
    "retention_rules",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("doc_class", String(16), nullable=False),
    Column("years", Integer, nullable=False),
    Column("updated_at", Millis, nullable=False),
    PrimaryKeyConstraint("tenant_id", "doc_class"),
)

# One key per erasure unit: chat x document class x calendar year x author for messages, or
# one file (blob_id set), or one project's master data (doc_class "auftrag", no class of its
# own: zunft.retention.keys.PROJECT_KEY_CLASS). Wrapped by the business's data key (never the
# KEK); wrapped is NULL once destroyed (crypto-shredding). Not unique: two keys for one unit
# (two processes making it at once) are harmless, erasure destroys every key of a unit.
content_keys = Table(
    "content_keys",
    metadata,
    Column("id", LargeBinary(16), primary_key=True),  # random; in every ciphertext's header
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("doc_class", String(16), nullable=False),
    Column("year", Integer, nullable=False),
    Column("author_id", ID, ForeignKey("users.id"), nullable=False),
    Column("blob_id", ID, nullable=True),  # a file's own key (its upload's id)
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("destroyed_at", Millis, nullable=True),
    Index(None, "tenant_id", "chat_id", "doc_class", "year", "author_id"),
    Index(None, "tenant_id", "doc_class", "year"),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("target_kind", String(16), nullable=False),  # project | customer
    Column("target_id", ID, nullable=False),
    Column("reason_enc", LargeBinary, nullable=False),
    Column("set_by", ID, ForeignKey("users.id"), nullable=True),
    Column("set_at", Millis, nullable=False),
    Column("lifted_by", ID, ForeignKey("users.id"), nullable=True),
    Column("lifted_at", Millis, nullable=True),
    Index(None, "tenant_id", "target_id"),
)

gdpr_requests = Table(
    "gdpr_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),  # the data subject
    Column("kind", String(16), nullable=False),  # access | erasure
    Column("requested_by", ID, ForeignKey("users.id"), nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("erase_rest_at", Millis, nullable=True),  # erasure: when what is kept goes too
    Column("done_at", Millis, nullable=True),  # erasure: everything erased
    Column("answer_enc", LargeBinary, nullable=True),  # the written answer (German text)
    Index(None, "tenant_id", "user_id"),
)
