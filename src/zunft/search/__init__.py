"""German word search over encrypted messages through a keyed-hash index of word stems."""
