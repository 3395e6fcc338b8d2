"""The app that owns the migrations ``railway_makemigrations`` writes for Railway.

Its migrations live in the project (``MIGRATION_MODULES["railway_schema"]``), never here.
"""
