"""The archive: proving the journal complete and unaltered (and, later, exports and retention)."""
