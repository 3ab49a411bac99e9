"""Retention (Aufbewahrung), legal hold, crypto-shredding erasure, GDPR requests and the audit
log (docs/compliance-retention.md; keys in docs/security.md, "Content keys")."""
