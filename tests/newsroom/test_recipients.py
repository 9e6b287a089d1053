"""The recipients' pages over HTTP against the real app: administrators only; Telegram
subscribers counted and searched; journalists imported from a CSV upload, added, edited and
suppressed with a cause; forms without their CSRF token refused with nothing changed."""

from __future__ import annotations

import re

from publisher import services
from tests.newsroom.test_releases import Office, office, office_server, text_of

__all__ = ["office", "office_server"]

JOURNALISTS = "/newsroom/recipients/journalists"
CSV = (
    "email,name,language,outlet,beats,cadence\n"
    "james@example.org,James Wright,en,The Levant Herald,Press Releases,instant\n"
    "amira@example.org,أميرة حداد,ar,عنب بلدي,,daily\n"
    "not-an-address,Nobody,en,,,instant\n"
)


def test_only_administrators_see_or_change_recipients(office: Office) -> None:
    for role in ("officer", "editor"):
        client = office.signed_in(f"{role}-r", role)
        for path in ("/newsroom/recipients/subscribers", JOURNALISTS):
            assert client.get(path).status_code == 403
        admin_csrf = office.csrf(client, "/newsroom/")
        answer = client.post(
            f"{JOURNALISTS}/add", data={"email": "x@example.org", "csrf": admin_csrf}
        )
        assert answer.status_code == 403
    assert services.list_recipients(office.backend, "email") == []


def test_subscribers_counted_by_language_and_category_and_searched(office: Office) -> None:
    store = office.backend.store
    entries = {
        str(1000 + n): {
            "language": "ar" if n % 3 == 0 else "en",
            "since": 1714550400,
            "source": "bot",
            **({"categories": ["local-news"]} if n % 2 else {}),
        }
        for n in range(60)
    }
    entries["@press_club"] = {"language": "both", "since": 1714550400, "source": "import"}
    store.add_recipients("telegram", entries)
    admin = office.signed_in("ada", "admin")
    page = admin.get("/newsroom/recipients/subscribers")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Arabic20" in text.replace("\n", "") and "local-news30" in text.replace("\n", "")
    assert "1–50 of 61" in text and 'rel="next"' in page.text
    found = admin.get("/newsroom/recipients/subscribers?q=press_club").text
    assert "@press_club" in found and "1001" not in found
    second = admin.get("/newsroom/recipients/subscribers?offset=50").text
    assert "51–61 of 61" in text_of(second)


def test_import_add_edit_and_suppress_journalists(office: Office) -> None:
    admin = office.signed_in("ada", "admin")
    csrf = office.csrf(admin, JOURNALISTS)
    report = admin.post(
        f"{JOURNALISTS}/import",
        data={"csrf": csrf},
        files={"file": ("journalists.csv", CSV.encode(), "text/csv")},
    )
    assert report.status_code == 200
    assert "2 added, 0 left out" in text_of(report.text) and "not-an-address" in report.text
    listed = admin.get(JOURNALISTS).text
    assert "james@example.org" in listed and "أميرة حداد" in listed

    added = office.post(
        admin,
        f"{JOURNALISTS}/add",
        page=JOURNALISTS,
        email="Lina@Example.org",
        name="Lina",
        language="en",
        outlet="Enab",
        beats="Local News; Aid",
        cadence="both",
    )
    assert added.status_code == 303 and "done=saved" in added.headers["location"]
    edited = office.post(
        admin,
        f"{JOURNALISTS}/edit",
        page=JOURNALISTS,
        email="lina@example.org",
        name="Lina K.",
        language="ar",
        outlet="Enab Baladi",
        beats="",
        cadence="daily",
    )
    assert edited.status_code == 303
    row = {r["address"]: r for r in services.list_recipients(office.backend, "email")}
    assert (
        row["lina@example.org"]["name"] == "Lina K."
        and row["lina@example.org"]["cadence"] == "daily"
    )

    bad = office.post(
        admin, f"{JOURNALISTS}/add", page=JOURNALISTS, email="x@example.org", cadence="hourly"
    )
    assert bad.status_code == 422 and "cadence" in bad.text

    suppressed = office.post(
        admin,
        f"{JOURNALISTS}/suppress",
        page=JOURNALISTS,
        email="james@example.org",
        cause="asked by phone",
    )
    assert suppressed.status_code == 303
    page = admin.get(f"{JOURNALISTS}?q=james").text
    assert "Suppressed" in page and "asked by phone" in page
    again = office.post(admin, f"{JOURNALISTS}/add", page=JOURNALISTS, email="james@example.org")
    assert "done=left_out" in again.headers["location"]
    assert "is not added back" in admin.get(again.headers["location"]).text


def test_recipient_forms_without_csrf_change_nothing(office: Office) -> None:
    admin = office.signed_in("ada", "admin")
    admin.get(JOURNALISTS)
    before = services.list_recipients(office.backend, "email")
    for path, data in (
        ("add", {"email": "x@example.org"}),
        ("edit", {"email": "x@example.org", "name": "X"}),
        ("suppress", {"email": "x@example.org", "cause": "no"}),
    ):
        answer = admin.post(f"{JOURNALISTS}/{path}", data=data)
        assert answer.status_code == 403, path
    upload = admin.post(
        f"{JOURNALISTS}/import", files={"file": ("j.csv", CSV.encode(), "text/csv")}
    )
    assert upload.status_code == 403
    assert services.list_recipients(office.backend, "email") == before == []
    assert re.search("form expired", upload.text)
