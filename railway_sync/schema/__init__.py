"""Railway's schema: reading catalogs, comparing by meaning, writing and applying migrations."""
