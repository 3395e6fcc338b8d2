"""URL parsing and masking: pure functions, no database needed."""

from __future__ import annotations

import pytest

from railway_sync.dburl import DatabaseUrlError, database_config, mask_url, scrub


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgresql://u:p@ss/w@rd@host/db", "postgresql://u:***@host/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("user:secret@host/db", "user:***@host/db"),
    ],
)
def test_mask_url_hides_the_whole_password(url, masked):
    assert mask_url(url) == masked


def test_scrub_removes_known_secrets_and_url_passwords():
    text = "failed for postgresql://bob:hunter2@h/db with hunter2"
    assert scrub(text, "hunter2") == "failed for postgresql://bob:***@h/db with ***"


def test_remote_hosts_get_sslmode_require_unless_the_url_says_otherwise():
    remote = database_config("postgresql://u:p@db.railway.app:5432/railway", variable="X")
    explicit = database_config(
        "postgresql://u:p@db.railway.app/railway?sslmode=disable", variable="X"
    )
    local = database_config("postgresql://u:p@localhost/db", variable="X", connect_timeout=7)

    keepalives = {
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    assert remote["OPTIONS"] == {"connect_timeout": 30, "sslmode": "require", **keepalives}
    assert explicit["OPTIONS"] == {"connect_timeout": 30, "sslmode": "disable", **keepalives}
    assert local["OPTIONS"] == {"connect_timeout": 7, **keepalives}
    assert (remote["HOST"], remote["PORT"], remote["NAME"]) == ("db.railway.app", 5432, "railway")


def test_parse_errors_never_contain_the_password():
    with pytest.raises(DatabaseUrlError) as error:
        database_config("postgresql://u:topsecret@h:port/db", variable="RAILWAY_DATABASE_URL")
    assert "topsecret" not in str(error.value)
    assert str(error.value).startswith("RAILWAY_DATABASE_URL is malformed")
