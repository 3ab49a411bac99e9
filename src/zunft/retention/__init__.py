"""Retention (Aufbewahrung), legal hold, crypto-shredding erasure, GDPR requests and the audit
log (docs/compliance.md; keys in docs/security.md, "Content keys")."""
