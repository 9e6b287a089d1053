"""Recipients through the services: CSV columns found by header name, suppression respected,
every change an event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher import services
from publisher.errors import ReleaseError, UnknownChannelError
from publisher.settings import get_settings
from tests.conftest import publisher_env, run_cli


@pytest.fixture
def backend(data_dir: Path) -> services.Backend:
    return services.connect(None, get_settings())


def test_columns_are_found_by_header_name_in_any_order(
    tmp_path: Path, backend: services.Backend
) -> None:
    path = tmp_path / "j.csv"
    path.write_text(
        "Cadence,beats,EMAIL,outlet,name,language\n"
        "daily,Local News;Press Releases,Amira@Example.org,Enab,Amira Haddad,ar\n"
        ",,james@example.com,,James,\n",
        encoding="utf-8",
    )
    report = services.import_journalists(backend, path, "admin")
    assert (report.added, report.left_out, report.problems) == (2, 0, [])
    rows = {r["address"]: r for r in services.list_recipients(backend, "email")}
    amira = rows["amira@example.org"]
    assert amira["cadence"] == "daily" and amira["beats"] == ["Local News", "Press Releases"]
    assert (amira["outlet"], amira["language"], amira["name"]) == ("Enab", "ar", "Amira Haddad")
    assert rows["james@example.com"]["cadence"] == "instant"
    assert rows["james@example.com"]["language"] == "en"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        # Excel's "CSV UTF-8": a byte order mark, CRLF, capitals and spaces in the header
        (
            "excel",
            '\ufeffEmail , Name,Beats\r\nrana@example.org,Rana,"Local News;Press Releases"\r\n',
        ),
        # a spreadsheet in a language with decimal commas saves with semicolons
        ("semicolons", 'email;name;beats\nrana@example.org;Rana;"Local News;Press Releases"\n'),
        ("tabs", "email\tname\tbeats\nrana@example.org\tRana\tLocal News;Press Releases\n"),
        # a quoted field may hold a line break
        (
            "multiline",
            'email,name,beats\nrana@example.org,"Rana\nHaddad",Local News;Press Releases\n',
        ),
    ],
)
def test_csv_files_as_spreadsheets_save_them(
    tmp_path: Path, backend: services.Backend, name: str, content: str
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content.encode("utf-8"))
    report = services.import_journalists(backend, path, "admin")
    assert (report.added, report.problems) == (1, [])
    [row] = services.list_recipients(backend, "email")
    assert row["address"] == "rana@example.org"
    assert row["beats"] == ["Local News", "Press Releases"]
    assert row["name"].split() == (["Rana", "Haddad"] if name == "multiline" else ["Rana"])


def test_a_row_with_more_fields_than_the_header_is_an_error_not_silently_cut(
    tmp_path: Path, backend: services.Backend
) -> None:
    path = tmp_path / "j.csv"
    # beats with commas, unquoted: the old reader dropped "Press Releases" without a word
    path.write_text(
        'email,name,beats\n"a@example.org","A",Local News\n'
        'b@example.org,B,Local News,Press Releases\nc@example.org,"C, jr.",\n'
    )
    report = services.import_journalists(backend, path, "admin")
    assert report.added == 2
    [problem] = report.problems
    assert (problem.file, problem.field) == (f"{path}:3", "columns")
    assert str(problem).endswith('fix: put a field that holds a "," in double quotes')


def test_an_unknown_column_is_named_and_nothing_is_imported(
    tmp_path: Path, backend: services.Backend
) -> None:
    path = tmp_path / "j.csv"
    path.write_text("email,name,phone\na@example.org,A,123\n")
    report = services.import_journalists(backend, path, "admin")
    assert report.added == 0
    assert [str(p) for p in report.problems] == [
        f"{path}:1: header: unknown column 'phone'; fix: the first line names the columns, "
        "from email, name, language, outlet, beats, cadence"
    ]


def test_bad_rows_are_reported_by_line_and_the_rest_imported(
    tmp_path: Path, backend: services.Backend
) -> None:
    path = tmp_path / "j.csv"
    path.write_text("email,cadence\nok@example.org,both\nnot-an-address,\nb@example.org,weekly\n")
    report = services.import_journalists(backend, path, "admin")
    assert report.added == 1
    assert [(p.file, p.field) for p in report.problems] == [
        (f"{path}:3", "email"),
        (f"{path}:4", "cadence"),
    ]


def test_a_suppressed_address_is_not_added_back_by_staff_or_import(
    tmp_path: Path, backend: services.Backend
) -> None:
    assert services.add_journalist(backend, "gone@example.org", "admin", name="Gone")
    services.suppress(backend, "email", "gone@example.org", "admin", "hard bounce 5.1.1")
    assert not services.add_journalist(backend, "Gone@Example.org", "admin")
    path = tmp_path / "j.csv"
    path.write_text("email\ngone@example.org\n")
    assert services.import_journalists(backend, path, "admin").left_out == 1
    services.subscribe(backend, "email", "gone@example.org", {"language": "en"}, "self", "signup")
    assert [r["address"] for r in services.list_recipients(backend, "email")] == [
        "gone@example.org"
    ]
    causes = [e.get("cause") for e in backend.store.recipient_events("email")]
    assert "hard bounce 5.1.1" in causes


def test_channels_without_subscribers_are_refused(backend: services.Backend) -> None:
    with pytest.raises(UnknownChannelError, match="has no subscribers"):
        services.list_recipients(backend, "x")
    with pytest.raises(ReleaseError, match="email"):
        services.add_journalist(backend, "not an address", "admin")


def test_the_command_line_adds_lists_and_removes_journalists(data_dir: Path) -> None:
    env = publisher_env(data_dir)
    added = run_cli(
        "journalists", "add", "Reem@Example.org", "--name", "Reem", "--beats",
        "Local News", "--cadence", "both", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = json.loads(run_cli("journalists", "list", "--json", env=env).stdout)
    assert listed[0]["email"] == "reem@example.org" and listed[0]["cadence"] == "both"
    assert run_cli("journalists", "remove", "reem@example.org", env=env).returncode == 0
    again = run_cli("journalists", "remove", "reem@example.org", env=env)
    assert again.returncode == 2 and "no such journalist" in again.stderr
    bad = run_cli("journalists", "add", "x@example.org", "--cadence", "weekly", env=env)
    assert bad.returncode == 2 and "cadence" in bad.stderr
