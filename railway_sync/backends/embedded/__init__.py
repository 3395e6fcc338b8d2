"""A PostgreSQL database backend whose server is the embedded one, started on first connection."""
