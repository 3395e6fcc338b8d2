"""Keep a hosted PostgreSQL (Railway) in step with a local PostgreSQL database."""
