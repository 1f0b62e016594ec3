"""The append-only audit log every business feature writes; it serves no RPC of its own."""
