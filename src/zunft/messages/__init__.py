"""Messages: send, reply, mention, edit (history kept), delete (tombstone), history, read state."""
