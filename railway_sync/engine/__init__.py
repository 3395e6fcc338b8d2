"""Moving rows: surveying both sides, planning, guarding, writing, verifying."""
