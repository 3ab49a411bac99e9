"""Storage: schema, engines for SQLite and PostgreSQL, the single writer with group commit."""
