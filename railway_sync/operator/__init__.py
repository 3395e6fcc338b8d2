"""What the operator sees in Django: the admin, its dashboard, the run history."""
