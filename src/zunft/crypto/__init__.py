"""Encryption at rest: key-encryption key, per-tenant data keys, envelope encryption, search tokens.

See docs/security.md for the formats.
"""
