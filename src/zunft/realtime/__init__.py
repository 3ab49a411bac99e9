"""Realtime delivery: the bus between processes, the per-process hub that fans committed
journal entries out to WebSocket connections, and the stream protocol (docs/realtime.md)."""
