"""The supported versions, one nox session per row: ``make test-matrix`` runs them all.

Each row gets a virtualenv of its own under ``.nox/``, built with that row's Python (found
with pyenv where it has it, else on PATH), installing the app as a project would
(``pip install -e '.[...]'``, the ``psycopg`` extra for psycopg 3) plus that row's Django,
then runs pytest there. A row whose Python this machine lacks is skipped, saying which
interpreter to install; nothing else is ever skipped.

    .venv/bin/nox --list                     # the rows
    .venv/bin/nox -s "tests(py3.13, django6.1, psycopg)" -- tests/test_sync.py

The rows run one after the other: they share the embedded PostgreSQL's test databases.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.error_on_missing_interpreters = False

# (Python, Django, driver, PostgreSQL of local, PostgreSQL of Railway): the README's table.
ROWS = [
    ("3.11", "5.2", "psycopg2", "18", "18"),
    ("3.12", "6.0", "psycopg", "18", "18"),
    ("3.13", "6.1", "psycopg", "18", "18"),
    ("3.13", "6.1", "psycopg2", "18", "18"),
    # PostgreSQL 15 on either side (Debian's, scripts/system-packages installs it).
    ("3.13", "6.1", "psycopg", "15", "18"),
    ("3.11", "5.2", "psycopg2", "18", "15"),
]

DJANGO = {"5.2": "Django>=5.2.10,<5.3", "6.0": "Django>=6.0,<6.1", "6.1": "Django>=6.1,<6.2"}


def row_id(python: str, django: str, driver: str, local_pg: str, railway_pg: str) -> str:
    servers = "" if (local_pg, railway_pg) == ("18", "18") else f", pg{local_pg}-pg{railway_pg}"
    return f"py{python}, django{django}, {driver}{servers}"


def find_python(version: str) -> str | None:
    """The newest pyenv-installed ``version`` (3.12 -> ~/.pyenv/versions/3.12.x), else
    ``pythonX.Y`` on PATH; None if neither."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    installed = sorted(
        root.glob(f"{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    if installed:
        return str(installed[-1])
    return shutil.which(f"python{version}")


@nox.session(name="tests")
@nox.parametrize(
    "python_version,django,driver,local_pg,railway_pg",
    ROWS,
    ids=[row_id(*row) for row in ROWS],
)
def tests(
    session: nox.Session,
    python_version: str,
    django: str,
    driver: str,
    local_pg: str,
    railway_pg: str,
) -> None:
    interpreter = find_python(python_version)
    if interpreter is None:
        # In CI a missing interpreter is a broken machine, not a row to leave out.
        report = session.error if os.environ.get("CI") else session.skip
        report(
            f"Python {python_version} is not installed (neither in pyenv nor as "
            f"python{python_version} on PATH): pyenv install {python_version}"
        )
    folder = Path(".nox") / row_id(python_version, django, driver, "18", "18").replace(", ", "-")
    python = folder / "bin" / "python"
    marker = folder / ".installed"
    stamp = (Path("pyproject.toml").read_text(), interpreter, DJANGO[django], driver)
    if not marker.exists() or marker.read_text() != repr(stamp):
        shutil.rmtree(folder, ignore_errors=True)
        session.run(interpreter, "-m", "venv", str(folder), external=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        session.run(*pip, "--upgrade", "pip", external=True)
        extras = "project,test,embedded" + (",psycopg" if driver == "psycopg" else "")
        session.run(*pip, "-e", f".[{extras}]", DJANGO[django], external=True)
        if driver == "psycopg":
            # psycopg 3 alone: nothing may need psycopg2.
            session.run(
                str(python),
                "-m",
                "pip",
                "uninstall",
                "--quiet",
                "--yes",
                "psycopg2-binary",
                external=True,
            )
        marker.write_text(repr(stamp))
    session.run(
        str(python),
        "-c",
        "import sys, django; from railway_sync.pg import driver; "
        "print(f'Python {sys.version.split()[0]}, Django {django.__version__}, "
        "{driver.NAME} {driver.VERSION}')",
        external=True,
    )
    session.run(
        str(python),
        "-m",
        "pytest",
        *(session.posargs or ["-q"]),
        env={"RAILWAY_SYNC_TEST_LOCAL_PG": local_pg, "RAILWAY_SYNC_TEST_RAILWAY_PG": railway_pg},
        external=True,
    )
