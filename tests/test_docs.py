"""Every command has help for every option; the README keeps its promises (the two quick-start
commands, at most 150 lines), and the docs pages the README points at keep theirs. What each
command's page must describe is checked in tests/test_site.py."""

from __future__ import annotations

import re

import pytest
from django.core.management import load_command_class

from tests.conftest import PROJECT_DIR, run_process
from tests.helpers import docs_generator

COMMANDS = sorted(
    path.stem
    for path in (PROJECT_DIR / "railway_sync" / "management" / "commands").glob("railway_*.py")
)
README = (PROJECT_DIR / "README.md").read_text()
DOCS = PROJECT_DIR / "docs"
# Django's own options, which every command has and the commands' pages leave to Django.
DJANGO_OPTIONS = docs_generator().DJANGO_OPTIONS


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_for_itself_and_every_option(name):
    command = load_command_class("railway_sync", name)
    parser = command.create_parser("manage.py", name)

    assert len(command.help) > 40
    for action in parser._actions:
        option = max(action.option_strings, key=len, default=None)
        if option is None or option in DJANGO_OPTIONS:
            continue
        assert action.help and len(action.help) > 20, option


def test_the_readme_is_short_and_links_the_documentation():
    assert len(README.splitlines()) < 150
    for page in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (PROJECT_DIR / page).is_file(), page


def readme_json_keys(command: str) -> set[str]:
    """Every key the ``--format json`` example of ``command`` (docs/json.md) shows."""
    block = (DOCS / "json.md").read_text().split("```jsonc\n", 1)[1].split("```", 1)[0]
    example = block.split(f"// {command} --format json\n", 1)[1].split("\n//", 1)[0]
    return set(re.findall(r'"(\w+)":', example))


def test_readme_json_examples_show_every_key():
    from tests.helpers import (
        CONNECTION_KEYS,
        STATUS_KEYS,
        STATUS_TABLE_KEYS,
        SYNC_KEYS,
        SYNC_TABLE_KEYS,
    )

    assert readme_json_keys("railway_sync") == SYNC_KEYS | SYNC_TABLE_KEYS
    assert readme_json_keys("railway_status") == STATUS_KEYS | STATUS_TABLE_KEYS
    assert readme_json_keys("railway_test_connection") == CONNECTION_KEYS


def test_help_runs_from_the_command_line():
    out, err, code = run_process("railway_sync", "--help")

    assert code == 0, err
    assert "--confirm-destructive" in out and "--batch-size" in out


def test_quick_start_is_two_make_targets_that_exist():
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "make demo" in quick_start and "make test" in quick_start
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (PROJECT_DIR / ".ci" / "run").read_text()


def test_the_supported_versions_table_is_the_test_matrix():
    """Every row the docs promise is a row ``make test-matrix`` runs (noxfile.py)."""
    import noxfile

    installing = (DOCS / "installing.md").read_text()
    section = installing.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    table = re.findall(
        r"^\| (3\.\d+) \| (\d\.\d)(?: LTS)? \| (psycopg2|psycopg 3)\b", section, re.M
    )
    matrix = [
        (python, django, "psycopg 3" if driver == "psycopg" else driver)
        for python, django, driver, local_pg, railway_pg in noxfile.ROWS
        if (local_pg, railway_pg) == ("18", "18")
    ]
    assert table == matrix
    assert {("15", "18"), ("18", "15")} <= {(row[3], row[4]) for row in noxfile.ROWS}
    assert re.search(r"^test-matrix:", (PROJECT_DIR / "Makefile").read_text(), re.M)


def test_env_example_lists_every_variable_the_settings_read():
    settings_text = (PROJECT_DIR / "project" / "settings.py").read_text()
    example = (PROJECT_DIR / ".env.example").read_text()
    for variable in set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', settings_text)):
        if variable in ("RAILWAY_SYNC_ENV_FILE", "DJANGO_DEBUG"):
            continue
        assert f"{variable}=" in example, variable
        assert f"`{variable}`" in (DOCS / "configuration.md").read_text(), variable


def test_bad_options_exit_1_with_one_line():
    for args, expected in [
        (["--mode", "fast"], "❌ railway_sync: argument --mode: invalid choice: 'fast'"),
        (
            ["--batch-size", "0"],
            "❌ railway_sync: argument --batch-size: invalid positive whole number value: '0'",
        ),
    ]:
        out, err, code = run_process("railway_sync", *args)
        assert code == 1
        assert err.strip().splitlines() == [err.strip()]
        assert err.startswith(expected)
