"""The documentation site: its generated pages are current, troubleshooting quotes every
failure line the code can print, and it builds with --strict, offline, fetching nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import PROJECT_DIR
from tests.helpers import docs_generator, run_python

generator = docs_generator()


def test_generated_pages_are_current():
    stale = [str(path.relative_to(PROJECT_DIR)) for path in generator.stale()]

    assert stale == [], (
        f"{', '.join(stale)} differ from what the code gives: run python scripts/docs.py "
        "(or make docs) and commit the result"
    )


def test_every_command_has_a_page_with_every_option():
    pages = PROJECT_DIR / "docs" / "commands"
    nav = (PROJECT_DIR / "mkdocs.yml").read_text()
    for name in generator.commands():
        page = (pages / f"{name}.md").read_text()
        assert f"- {name}: commands/{name}.md" in nav, name
        reference = page.split(generator.BEGIN, 1)[1]
        from django.core.management import load_command_class

        parser = load_command_class("railway_sync", name).create_parser("manage.py", name)
        for action in generator._own_actions(parser):
            assert f"`{max(action.option_strings, key=len)}" in reference, (name, action.dest)


def test_json_page_lists_every_field_of_every_document():
    from typing import get_args, get_type_hints

    from railway_sync.management import documents

    page = (PROJECT_DIR / "docs" / "json.md").read_text()
    for document in get_args(documents.Document):
        section = page.split(f"{{#{document.__name__.lower()}}}", 1)[1].split("###", 1)[0]
        for field in get_type_hints(document):
            assert f"| `{field}` |" in section, (document.__name__, field)


def test_the_collector_finds_the_failure_lines():
    keys = {failure.key for failure in generator.failure_messages()}

    assert len(keys) > 50
    for known in [
        "Railway data sync failed",  # a command's failure_line
        "another railway_sync is running (waited",  # an error raised with an f-string
        "ran out of disk space",  # a cause in failures.CAUSES, after {Server}
        "Rebuild refused: local data is below the safety thresholds",  # a guard's refusal
        "Local data is inconsistent",  # a message built with +
        "Local and Railway databases are not in sync",  # a ⚠ CommandError
        "Railway does not match local after setup",  # a command's self.fail
    ]:
        assert known in keys, known


def test_troubleshooting_quotes_every_failure_line():
    missing = [f"{failure.where}: {failure.key!r}" for failure in generator.missing_failures()]

    assert missing == [], (
        "docs/troubleshooting.md does not quote these failure lines (add each, with what it "
        "means and what to run):\n" + "\n".join(missing)
    )


# A fetch of anything from another host by a built page: a script, a stylesheet, a font, an
# image or a frame (plain links to other sites are fine: nothing loads them).
EXTERNAL_FETCH = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"(?:https?:)?//"
    r"|<link\b(?=[^>]*\brel=\"(?:stylesheet|preconnect|preload|prefetch|icon|dns-prefetch)\")"
    r"[^>]*\bhref=\"(?:https?:)?//"
    r"|@import\s+url\((?:['\"])?(?:https?:)?//"
    r"|fonts\.googleapis\.com|fonts\.gstatic\.com",
    re.I,
)


def test_site_builds_strict_offline_and_fetches_nothing(tmp_path: Path):
    site = tmp_path / "site"
    # Any download attempted at build time goes to a closed port and fails the build.
    offline = {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "no_proxy": "",
        "NO_MKDOCS_2_WARNING": "1",
    }
    built = run_python(
        "-m", "mkdocs", "build", "--strict", "--site-dir", str(site), env=offline, timeout=300
    )

    assert built.returncode == 0, built.stderr
    pages = sorted(site.rglob("*.html"))
    assert {"index.html", "troubleshooting/index.html", "commands/railway_sync/index.html"} <= {
        str(page.relative_to(site)) for page in pages
    }
    for path in [*pages, *site.rglob("*.css"), *site.rglob("*.js")]:
        found = EXTERNAL_FETCH.search(path.read_text(errors="replace"))
        assert found is None, f"{path.relative_to(site)} fetches {found.group(0)!r}"


def test_a_new_command_gets_a_page_and_a_place_in_the_nav(monkeypatch):
    page = generator.command_page("railway_status", None)
    assert page.startswith("# `railway_status`\n")
    assert generator.BEGIN in page and "`--deep`" in page

    monkeypatch.setattr(generator, "commands", lambda: ["railway_sync", "railway_pull"])
    nav = generator.nav((PROJECT_DIR / "mkdocs.yml").read_text())
    entries = nav.split(generator.NAV_BEGIN, 1)[1].split(generator.NAV_END, 1)[0]
    assert [line.strip() for line in entries.strip().splitlines()] == [
        "- railway_sync: commands/railway_sync.md",
        "- railway_pull: commands/railway_pull.md",
    ]


def key(source: str) -> str:
    import ast

    return generator._key(ast.parse(source, mode="eval").body)


def test_a_message_is_known_by_its_first_constant_part():
    assert key('f"{variable} is not a database URL (it has no prefix)."') == (
        "is not a database URL (it has no prefix"
    )
    assert key('f"❌ Railway demo failed: {command} exited {code}"') == "Railway demo failed"
    assert key('"{Server} ran out of disk space"') == "ran out of disk space"
    assert key('"Local data is inconsistent: " + "; ".join(found) + ". Fix it."') == (
        "Local data is inconsistent"
    )
    assert key('f"⚠ {notice}"') == ""


def test_configuration_page_names_every_setting_and_variable():
    page = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    conf = (PROJECT_DIR / "railway_sync" / "conf.py").read_text()
    settings_text = (PROJECT_DIR / "project" / "settings.py").read_text()
    # Each of conf.py's readers opens its docstring with the setting it reads.
    settings = set(re.findall(r'^    """``([A-Z_]+)', conf, re.M))
    variables = set(re.findall(r'os\.environ(?:\.get\(|\[)"([A-Z_]+)"', settings_text))

    assert len(settings) > 10
    for name in sorted(settings | variables):
        assert re.search(rf"`{name}[`\[]", page), f"docs/configuration.md does not name {name}"


def test_every_command_page_says_what_it_does_and_its_exit_codes():
    """What the README's command sections promise (tests/test_docs.py), on the site: the
    hand-written part of each command's page, above the generated reference."""
    from django.core.management import load_command_class

    for name in generator.commands():
        page = (PROJECT_DIR / "docs" / "commands" / f"{name}.md").read_text()
        written = page.split(generator.BEGIN, 1)[0]
        fix = f"write docs/commands/{name}.md above the generated reference"
        assert "## Exit codes" in written, f"{name} has no exit codes: {fix}"
        parser = load_command_class("railway_sync", name).create_parser("manage.py", name)
        for action in generator._own_actions(parser):
            option = max(action.option_strings, key=len)
            assert f"`{option}" in written, f"{option} of {name} is not described: {fix}"


def test_the_benchmark_draws_its_ratios_as_svg(tmp_path: Path):
    import json
    from xml.etree import ElementTree

    from benchmarks import plot

    for animals, ratio in [(2_000, 2.0), (50_000, 0.2)]:
        steps = [
            {"name": "baseline: pg_dump", "ratio": 1.0, "target": None},
            {"name": "no-op sync", "ratio": ratio, "target": 0.05},
            {"name": "railway_status", "ratio": ratio / 2, "target": 0.05},
        ]
        (tmp_path / f"{animals}.json").write_text(json.dumps({"animals": animals, "steps": steps}))

    svg = plot.draw(*plot.load(sorted(tmp_path.glob("*.json"))))

    root = ElementTree.fromstring(svg)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2  # one per step, the baseline left out
    assert all(len(line.get("points", "").split()) == 2 for line in lines)
    assert (
        "no-op sync" in svg and "target &lt;= 0.05x" in svg and "http" not in svg.split(">", 1)[1]
    )
