"""The event store: database engine, tables, and every status transition of a stored event."""
