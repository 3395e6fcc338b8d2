"""A distinctive password in RAILWAY_DATABASE_URL never reaches stdout, stderr, the logs
(at DEBUG, which logs SQL) or the sync history, on any command's failure path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connections

from railway_sync.models import SyncRun
from tests.conftest import (
    DB,
    PASSWORD,
    ROLE,
    closed_port,
    database_url,
    execute,
    run_process,
    socket_host,
)

COMMANDS = [
    ["railway_test_connection"],
    ["railway_test_connection", "--format", "json"],
    ["railway_migrate"],
    ["railway_migrate", "--dry-run"],
    ["railway_sync"],
    ["railway_sync", "--dry-run"],
    ["railway_sync", "--mode", "rebuild", "--confirm-destructive"],
    ["railway_sync", "--mode", "force"],
    ["railway_sync", "--format", "json"],
    ["railway_status"],
    ["railway_status", "--check", "--format", "json"],
    ["railway_setup"],
    ["railway_setup", "--dry-run"],
]


def failure_urls(password_role: str) -> dict[str, str]:
    return {
        "wrong password": password_role.format(password=PASSWORD + "x"),
        "malformed": f"postgresql://someone:{PASSWORD}@db.example.com:port/railway",
        "password with @ and /": f"postgresql://someone:{PASSWORD}@/x@db.example.com:port/db",
        "not postgres": f"mysql://someone:{PASSWORD}@db.example.com/railway",
        "no scheme": f"someone:{PASSWORD}@db.example.com/railway",
        "unreachable": f"postgresql://someone:{PASSWORD}@127.0.0.1:{closed_port()}/railway",
        "unknown database": f"postgresql://postgres:{PASSWORD}@{socket_host()}/nowhere",
    }


@DB
def test_no_command_ever_shows_the_password(seeded, password_role):
    base = {
        "DATABASE_URL": database_url("default"),
        "RAILWAY_SYNC_LOG_LEVEL": "DEBUG",
        "RAILWAY_CONNECT_ATTEMPTS": "1",
    }
    # Connected with the right password, but failing later: drift on Railway.
    execute("railway", "ALTER TABLE animals ADD COLUMN secret_column text")
    scenarios = {
        **failure_urls(password_role),
        "schema drift": password_role.format(password=PASSWORD),
    }
    failures = 0
    for scenario, url in scenarios.items():
        for command in COMMANDS:
            out, err, code = run_process(*command, env={**base, "RAILWAY_DATABASE_URL": url})
            assert PASSWORD not in out + err, (scenario, command)
            failures += code != 0
    assert failures >= len(COMMANDS) * (len(scenarios) - 1)
    recorded = SyncRun.objects.using("default").exclude(error="")
    assert recorded.count() > 0
    assert not any(PASSWORD in run.error for run in recorded)


@pytest.mark.parametrize("variable", ["DATABASE_URL", "RAILWAY_DATABASE_URL"])
def test_bad_urls_in_either_variable_never_echo_the_password(variable):
    for url in (
        f"mysql://u:{PASSWORD}@h/db",
        f"postgresql://u:{PASSWORD}@h:x/db",
        f"u:{PASSWORD}@h/db",
    ):
        out, err, code = run_process("railway_status", env={variable: url})
        assert code == 1
        assert PASSWORD not in out + err


@DB
@pytest.mark.parametrize(("password", "wrong"), [("a", "password"), ("password", "a")])
def test_a_short_or_common_password_is_masked_only_where_it_stands_in_the_url(
    clean, role_with_password, password, wrong
):
    """Masking the password wherever its letters occur would garble the driver's words
    ("connection to server ***t", "FATAL: *** authentication failed"); only the URL's
    password field is masked."""
    template = role_with_password(password)
    railway_name = connections["railway"].settings_dict["NAME"]
    socket = Path(connections["railway"].settings_dict["HOST"]) / ".s.PGSQL.5432"
    base = {"DATABASE_URL": database_url("default"), "RAILWAY_CONNECT_ATTEMPTS": "1"}

    out, err, code = run_process(
        "railway_test_connection",
        env={**base, "RAILWAY_DATABASE_URL": template.format(password=password)},
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "✅ Railway connection successful"
    assert re.fullmatch(
        rf"   postgresql://{ROLE}:\*\*\*@{re.escape(str(socket.parent))}/{railway_name}: "
        rf"PostgreSQL [\d.]+( \([^)]*\))?, database {railway_name} \(\d+\.\d\d s\)",
        out.splitlines()[1],
    ), out

    out, err, code = run_process(
        "railway_test_connection",
        env={**base, "RAILWAY_DATABASE_URL": template.format(password=wrong)},
    )
    assert (out, code) == ("", 1)
    assert err == (
        f'❌ Railway connection failed: connection to server on socket "{socket}" '
        f'failed: FATAL:  password authentication failed for user "{ROLE}" (Check the user and '
        "password in RAILWAY_DATABASE_URL.)\n"
    )

    port = closed_port()
    out, err, code = run_process(
        "railway_test_connection",
        env={**base, "RAILWAY_DATABASE_URL": f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/db"},
    )
    assert (out, code) == ("", 1)
    assert err == (
        f'❌ Railway connection failed: connection to server at "127.0.0.1", port '
        f"{port} failed: Connection refused (Check the host and port in RAILWAY_DATABASE_URL "
        "and that the database is running.)\n"
    )
