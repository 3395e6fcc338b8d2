"""Reading Railway's migration files costs one ``MigrationLoader`` per command: Django's
loader imports every migration module and builds the graph, so a sync that built it twice
paid the start-up twice, 100+ times a day."""

from __future__ import annotations

import pytest
from django.db.migrations import loader as django_loader

from tests.conftest import DB, run


@pytest.fixture
def loaders_built(monkeypatch) -> list[str]:
    """One entry per MigrationLoader built while the test runs."""
    built: list[str] = []
    original = django_loader.MigrationLoader.__init__

    def counting(self, *args, **kwargs) -> None:
        built.append("loader")
        original(self, *args, **kwargs)

    monkeypatch.setattr(django_loader.MigrationLoader, "__init__", counting)
    return built


@DB
@pytest.mark.parametrize(
    ("command", "loaders"),
    [
        (("railway_sync",), 1),
        (("railway_sync", "--dry-run"), 1),
        (("railway_sync", "--mode", "rebuild", "--confirm-destructive"), 1),
        (("railway_status",), 1),
        (("railway_makemigrations", "--dry-run"), 1),
        (("railway_migrate",), 1),
        # Its three steps are a migrate, a sync and a status, once each.
        (("railway_setup",), 3),
    ],
)
def test_a_command_reads_the_migration_files_once(seeded, loaders_built, command, loaders):
    loaders_built.clear()  # the fixtures migrated Railway

    out, err, code = run(*command)

    assert code == 0, out + err
    assert len(loaders_built) == loaders
