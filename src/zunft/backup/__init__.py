"""Encrypted, consistent backups and their restore (docs/backup.md)."""
