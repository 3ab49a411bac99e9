"""The append-only, hash-chained journal at the centre of zunft (docs/journal.md)."""

from zunft.journal.chain import GENESIS, Event, canonical, entry_hash, payload_hash

__all__ = ["GENESIS", "Event", "canonical", "entry_hash", "payload_hash"]
