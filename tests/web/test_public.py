"""The journalists' public pages over HTTP: double opt-in, one-click unsubscribe, preferences,
bad links, CSRF, rate limits and languages, against the real app, Redis and an SMTP server."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from publisher import channels, links, services
from publisher.fanout import Offer
from publisher.fanout import audience as audience_of
from publisher.services import journalists
from tests.web.conftest import ORGANISATION, ORGANISATION_ADDRESS, Site, forms


def main_text(page: httpx.Response) -> str:
    found = re.search(r"<main.*?</main>", page.text, re.S)
    assert found, page.text
    return found.group(0)


def audience(site: Site, briefing: bool) -> list[str]:
    """Who an English local-news release (or briefing) would go to by email."""
    offer = Offer("en", frozenset({"local-news"}), "local-news", briefing=briefing)
    email_channel = channels.get("email")
    return list(audience_of(site.backend.store, site.backend.settings, email_channel, offer))


def confirm_signup(site: Site, client: httpx.Client, address: str, **fields: Any) -> str:
    """Sign up and confirm through the pages; returns the confirmation link's path."""
    assert site.sign_up(client, address, **fields).status_code == 200
    path = site.link_in(site.mails()[-1])
    assert client.post(path).status_code == 200
    return path


def test_sign_up_sends_only_the_confirmation_until_it_is_confirmed(site: Site) -> None:
    client = site.client()
    answer = site.sign_up(
        client,
        "Amira.Haddad@Example.org",
        name="Amira Haddad",
        outlet="Enab Baladi",
        beats=["local-news", "press-releases"],
        cadence="daily",
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text and "amira.haddad@example.org" in answer.text

    [message] = site.mails()
    assert site.peer.messages[0].rcpt_tos == ["amira.haddad@example.org"]
    assert message["To"].addresses[0].addr_spec == "amira.haddad@example.org"
    assert message["To"].addresses[0].display_name == "Amira Haddad"
    assert message["Message-ID"].endswith("@example.org>")
    assert ORGANISATION in message["Subject"] and message["Date"]
    assert message.get_body(("html",)) is not None
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "48 hours" in text and ORGANISATION_ADDRESS in text
    path = site.link_in(message)

    # Not a recipient yet: neither a release nor the daily briefing reaches them.
    assert site.rows() == {}
    assert audience(site, briefing=False) == audience(site, briefing=True) == []
    page = client.get(path)
    assert page.status_code == 200
    [form] = forms(page.text)
    assert (form.action, form.method) == (path, "post")
    assert site.rows() == {} and len(site.peer.messages) == 1

    done = client.post(path)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert re.search(r'href="/preferences/[^"]+"', done.text)
    assert audience(site, briefing=True) == ["amira.haddad@example.org"]  # cadence daily
    row = site.rows()["amira.haddad@example.org"]
    assert row["state"] == "subscribed" and row["source"] == "signup"
    assert (row["cadence"], row["beats"], row["language"]) == (
        "daily",
        ["local-news", "press-releases"],
        "en",
    )
    assert (row["name"], row["outlet"]) == ("Amira Haddad", "Enab Baladi")
    events = site.backend.store.recipient_events("email")
    assert [e["type"] for e in events] == ["sign-up requested", "subscribed"]
    assert all(e["who"].startswith("self (web,") for e in events)
    assert len(site.peer.messages) == 1  # confirming sends nothing more

    again = client.post(path)  # a second click: already done, nothing changes
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert len(site.backend.store.recipient_events("email")) == 2


def test_a_get_of_the_confirmation_or_unsubscribe_link_changes_nothing(site: Site) -> None:
    client = site.client()
    site.sign_up(client, "scanner@example.org")
    confirm = site.link_in(site.mails()[0])
    services.add_journalist(site.backend, "known@example.org", "admin", name="Known")
    unsubscribe = urlpath(
        links.unsubscribe_url("email", "known@example.org", site.backend.settings)
    )
    before = site.snapshot()
    for path in (confirm, unsubscribe, confirm, unsubscribe):
        assert client.get(path).status_code == 200
        assert client.head(path).status_code == 200
    assert site.snapshot() == before
    assert site.rows()["known@example.org"]["state"] == "subscribed"
    assert "scanner@example.org" not in site.rows()


def urlpath(url: str) -> str:
    return httpx.URL(url).path


def test_one_click_unsubscribe_without_cookie_or_csrf_and_idempotent(site: Site) -> None:
    services.add_journalist(site.backend, "leila@example.org", "admin", name="Leila")
    path = urlpath(links.unsubscribe_url("email", "leila@example.org", site.backend.settings))
    # As a mail provider sends it: no cookie, no token, exactly RFC 8058's body.
    raw = httpx.post(
        site.base + path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert raw.status_code == 200
    assert "location" not in raw.headers and "set-cookie" not in raw.headers
    assert "You are unsubscribed" in raw.text
    row = site.rows()["leila@example.org"]
    assert row["state"] == "unsubscribed" and row["cause"] == "unsubscribed (one-click)"
    events = site.snapshot()["events"]

    second = httpx.post(site.base + path, data={"List-Unsubscribe": "One-Click"})
    assert second.status_code == 200
    assert site.snapshot()["events"] == events
    assert site.rows()["leila@example.org"]["cause"] == "unsubscribed (one-click)"


def test_the_unsubscribe_pages_button_unsubscribes(site: Site) -> None:
    services.add_journalist(site.backend, "omar@example.org", "admin", language="ar")
    path = urlpath(links.unsubscribe_url("email", "omar@example.org", site.backend.settings))
    client = site.client()
    page = client.get(path)
    assert page.status_code == 200 and 'dir="rtl"' in page.text  # his language
    [form] = forms(page.text)
    assert form.method == "post" and form.action == path
    done = client.post(form.action, data=dict(form.fields))
    assert done.status_code == 200 and 'dir="rtl"' in done.text
    assert "تمّ إلغاء اشتراككم" in done.text
    row = site.rows()["omar@example.org"]
    assert row["state"] == "unsubscribed" and row["cause"] == "unsubscribed (unsubscribe page)"
    assert site.backend.store.recipients("email") == {}  # no later email reaches him
    again = client.get(path)  # the page now says so, and offers no button
    assert forms(again.text) == [] and "تمّ إلغاء اشتراككم" in again.text


def test_a_post_without_the_one_click_body_changes_nothing(site: Site) -> None:
    services.add_journalist(site.backend, "keep@example.org", "admin")
    path = urlpath(links.unsubscribe_url("email", "keep@example.org", site.backend.settings))
    before = site.snapshot()
    assert httpx.post(site.base + path, data={"List-Unsubscribe": "yes"}).status_code == 400
    assert httpx.post(site.base + path).status_code == 400
    assert site.snapshot() == before


def tamper(token: str) -> str:
    """The token with one character of its payload changed (the signature no longer fits)."""
    return token[:3] + ("A" if token[3] != "A" else "B") + token[4:]


def _expired_confirm_token(site: Site, address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    old = int(time.time()) - 49 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old)
        return links.make_token("confirm", "email", address, site.backend.settings)


@pytest.mark.parametrize("kind", ["tampered", "expired", "wrong purpose"])
def test_a_bad_token_gets_a_clear_400_page_and_changes_nothing(
    site: Site, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = "target@example.org"
    client = site.client()
    site.sign_up(client, address)  # a pending sign-up a bad confirmation must not confirm
    services.add_journalist(site.backend, "subscribed@example.org", "admin")
    settings = site.backend.settings
    good = {p: links.make_token(p, "email", address, settings) for p in links.PURPOSES}
    subscribed = {
        p: links.make_token(p, "email", "subscribed@example.org", settings) for p in links.PURPOSES
    }
    unsubscribe: str | None
    preferences: str | None
    if kind == "tampered":
        confirm = tamper(good["confirm"])
        unsubscribe, preferences = (
            tamper(subscribed["unsubscribe"]),
            tamper(subscribed["preferences"]),
        )
    elif kind == "expired":
        confirm = _expired_confirm_token(site, address, monkeypatch)
        unsubscribe = preferences = None  # these links do not expire (old emails keep working)
    else:
        confirm = subscribed["unsubscribe"]
        unsubscribe = subscribed["confirm"]
        preferences = subscribed["unsubscribe"]
    title = {
        "tampered": "This link does not work",
        "expired": "This link has expired",
        "wrong purpose": "This link is for something else",
    }[kind]
    before = site.snapshot()
    calls = [("GET", f"/confirm/{confirm}"), ("POST", f"/confirm/{confirm}")]
    if unsubscribe:
        calls.append(("POST", f"/unsubscribe/{unsubscribe}"))
        calls.append(("GET", f"/unsubscribe/{unsubscribe}"))
    if preferences:
        calls.append(("GET", f"/preferences/{preferences}"))
    for method, path in calls:
        answer = client.request(
            method, path, data={"List-Unsubscribe": "One-Click"} if method == "POST" else None
        )
        assert answer.status_code == 400, (method, path)
        assert title in answer.text, (method, path, main_text(answer))
    csrf = site.csrf(client)
    if preferences:
        answer = client.post(
            f"/preferences/{preferences}", data={"csrf": csrf, "action": "unsubscribe"}
        )
        assert answer.status_code == 400
    assert site.snapshot() == before
    assert "target@example.org" not in site.rows()
    assert site.rows()["subscribed@example.org"]["state"] == "subscribed"
    assert len(site.peer.messages) == 1


def _normalised(page: httpx.Response, address: str) -> str:
    text = page.text.replace(address, "ADDRESS")
    return re.sub(r'name="csrf" value="[^"]+"', "", text)


def test_the_answer_is_the_same_for_new_subscribed_and_suppressed_addresses(site: Site) -> None:
    services.add_journalist(site.backend, "subscribed@example.org", "admin")
    services.add_journalist(site.backend, "gone@example.org", "admin")
    services.suppress(site.backend, "email", "gone@example.org", "admin", "hard bounce 5.1.1")
    services.add_journalist(site.backend, "left@example.org", "admin")
    services.unsubscribe(site.backend, "email", "left@example.org", "admin")
    answers = []
    for number, address in enumerate(
        ["new@example.org", "subscribed@example.org", "gone@example.org", "left@example.org"]
    ):
        page = site.sign_up(site.client(f"203.0.113.{number}"), address)
        answers.append((page.status_code, _normalised(page, address), sorted(page.headers)))
    assert all(answer == answers[0] for answer in answers), "the answer tells addresses apart"
    assert answers[0][0] == 200
    assert sorted(m.rcpt_tos[0] for m in site.peer.messages) == [
        "gone@example.org",
        "left@example.org",
        "new@example.org",
        "subscribed@example.org",
    ]
    rows = site.rows()  # nothing changes before a confirmation
    assert rows["gone@example.org"]["state"] == "suppressed"
    assert rows["left@example.org"]["state"] == "unsubscribed"
    assert "new@example.org" not in rows


@pytest.mark.parametrize("how", ["missing", "forged", "another browser's", "no cookie"])
def test_a_sign_up_without_a_valid_csrf_token_is_refused_and_nothing_is_stored_or_sent(
    site: Site, how: str
) -> None:
    client = site.client()
    token = site.csrf(client)  # the browser has its cookie
    data = {"email": "csrf@example.org", "language": "en", "cadence": "instant"}
    if how == "forged":
        data["csrf"] = token[:-4] + "AAAA"
    elif how == "another browser's":
        data["csrf"] = site.csrf(site.client())
    elif how == "no cookie":
        data["csrf"] = token
        client.cookies.clear()
    before = site.snapshot()
    answer = client.post("/subscribe", data=data)
    assert answer.status_code == 403
    assert "Please send the form again" in answer.text
    assert site.snapshot() == before and site.peer.messages == []


def test_the_preferences_form_needs_its_csrf_token(site: Site) -> None:
    services.add_journalist(site.backend, "prefs@example.org", "admin")
    token = links.make_token("preferences", "email", "prefs@example.org", site.backend.settings)
    before = site.snapshot()
    answer = site.client().post(f"/preferences/{token}", data={"action": "unsubscribe"})
    assert answer.status_code == 403
    assert site.snapshot() == before


def test_sign_ups_are_rate_limited_per_client_and_per_address(site: Site) -> None:
    client = site.client("192.0.2.10")
    for number in range(5):
        assert site.sign_up(client, f"person{number}@example.org").status_code == 200
    refused = site.sign_up(client, "person5@example.org")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert "Too many attempts" in refused.text
    assert len(site.peer.messages) == 5

    site.peer.reset()
    for number in range(3):  # one address from three clients
        answer = site.sign_up(site.client(f"192.0.2.{20 + number}"), "target@example.org")
        assert answer.status_code == 200
    refused = site.sign_up(site.client("192.0.2.30"), "Target@Example.org")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 3600
    assert len(site.peer.messages) == 3


def test_an_import_does_not_bring_back_an_unsubscribed_address_but_a_confirmed_sign_up_does(
    site: Site, tmp_path: Path
) -> None:
    services.add_journalist(site.backend, "back@example.org", "admin", name="Back")
    path = urlpath(links.unsubscribe_url("email", "back@example.org", site.backend.settings))
    httpx.post(site.base + path, data={"List-Unsubscribe": "One-Click"})
    csv = tmp_path / "journalists.csv"
    csv.write_text("email,name,cadence\nBack@Example.org,Back,daily\n", encoding="utf-8")
    report = services.import_journalists(site.backend, csv, "admin")
    assert (report.added, report.left_out) == (0, 1)
    assert site.rows()["back@example.org"]["state"] == "unsubscribed"

    client = site.client()
    confirm_signup(site, client, "back@example.org", cadence="both", language="ar")
    row = site.rows()["back@example.org"]
    assert row["state"] == "subscribed" and (row["cadence"], row["language"]) == ("both", "ar")
    assert "back@example.org" in site.backend.store.recipients("email")


def test_preferences_change_language_beats_and_cadence_then_unsubscribe(site: Site) -> None:
    client = site.client()
    confirm_signup(site, client, "prefs@example.org", beats=["local-news"])
    token = links.make_token("preferences", "email", "prefs@example.org", site.backend.settings)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "Your preferences" in page.text
    [form] = forms(page.text)
    assert ("beats", "local-news") in form.fields and ("cadence", "instant") in form.fields
    csrf = dict(form.fields)["csrf"]
    fields = {
        "csrf": csrf,
        "language": "ar",
        "cadence": "daily",
        "beats": ["press-releases", "coalition-news"],
        "action": "save",
    }
    saved = client.post(f"/preferences/{token}", data=fields)
    assert saved.status_code == 200 and 'dir="rtl"' in saved.text  # now in Arabic
    assert "تمّ حفظ تفضيلاتكم" in saved.text
    row = site.rows()["prefs@example.org"]
    assert (row["language"], row["cadence"]) == ("ar", "daily")
    assert row["beats"] == ["coalition-news", "press-releases"]
    assert site.backend.store.recipient_events("email")[-1]["type"] == "preferences changed"

    bad = client.post(
        f"/preferences/{token}", data={"csrf": csrf, "cadence": "weekly", "language": "en"}
    )
    assert bad.status_code == 400 and site.rows()["prefs@example.org"]["cadence"] == "daily"

    gone = client.post(f"/preferences/{token}", data={"csrf": csrf, "action": "unsubscribe"})
    assert gone.status_code == 200
    row = site.rows()["prefs@example.org"]
    assert row["state"] == "unsubscribed" and row["cause"] == "unsubscribed (preferences page)"
    after = client.get(f"/preferences/{token}")  # no form to save into a suppressed address
    assert forms(after.text) == [] and after.status_code == 200


def test_a_bad_sign_up_is_shown_again_with_its_errors_and_nothing_is_sent(site: Site) -> None:
    client = site.client()
    answer = site.sign_up(client, "not an address", cadence="weekly", beats=["no-such-topic"])
    assert answer.status_code == 400
    assert 'aria-invalid="true"' in answer.text and 'value="not an address"' in answer.text
    for message in ("Enter an email address", "Choose how often", "Choose topics"):
        assert message in answer.text
    assert site.peer.messages == [] and site.snapshot()["events"] == 0


def test_arabic_pages_read_right_to_left(site: Site) -> None:
    client = site.client(**{"Accept-Language": "ar-SY,ar;q=0.9,en;q=0.5"})
    form = client.get("/subscribe")
    assert '<html lang="ar" dir="rtl">' in form.text and "أخبار محلية" in form.text
    assert '<html lang="en" dir="ltr">' in client.get("/subscribe?lang=en").text
    sent = site.sign_up(client, "rania@example.org", language="ar")
    assert '<html lang="ar" dir="rtl">' in sent.text and "تفقّدوا بريدكم الوارد" in sent.text
    [message] = site.mails()
    assert "تأكيد الاشتراك" in message["Subject"]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'lang="ar" dir="rtl"' in html
    path = site.link_in(message)
    english_browser = site.client(**{"Accept-Language": "en"})
    page = english_browser.get(path)  # the sign-up's language, not the browser's
    assert '<html lang="ar" dir="rtl">' in page.text and "تأكيد الاشتراك" in page.text
    done = english_browser.post(path)
    assert '<html lang="ar" dir="rtl">' in done.text and "تمّ الاشتراك" in done.text


def test_pages_carry_the_security_headers(site: Site) -> None:
    client = site.client()
    token = links.make_token("unsubscribe", "email", "h@example.org", site.backend.settings)
    for path in ("/subscribe", f"/unsubscribe/{token}", "/confirm/bad", "/no-such-page"):
        answer = client.get(path)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src" not in policy
        assert "default-src 'none'" in policy  # so no script of any kind
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "<script" not in answer.text
    cookie = client.get("/subscribe").headers.get("set-cookie") or ""
    assert cookie == "" or ("HttpOnly" in cookie and "SameSite=lax" in cookie)
    css = client.get("/static/web.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_healthz_and_problem_details(site: Site) -> None:
    client = site.client()
    # No worker runs here: degraded, still 200 (tests/web/test_healthz.py has one running).
    assert client.get("/healthz").json() == {"status": "degraded", "redis": "ok", "workers": 0}
    missing = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404 and missing.json()["title"] == "Not Found"
    wrong = client.put("/subscribe")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
    page = client.get("/nothing-here")
    assert page.status_code == 404 and "Page not found" in page.text


def test_a_mail_server_that_is_down_gets_a_503_page_and_the_sign_up_can_be_sent_again(
    site: Site,
) -> None:
    site.peer.fail_next(1, code=451)
    client = site.client()
    answer = site.sign_up(client, "later@example.org")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
    assert site.sign_up(client, "later@example.org").status_code == 200
    assert len(site.peer.messages) == 1


def test_the_services_answer_who_a_link_is_for(site: Site) -> None:
    services.add_journalist(site.backend, "who@example.org", "admin", beats=["Local News"])
    token = links.make_token("preferences", "email", "who@example.org", site.backend.settings)
    found = journalists.look_up(site.backend, token, "preferences")
    assert (found.state, found.beats, found.language) == ("subscribed", ["local-news"], "en")
    unknown = links.make_token("preferences", "email", "nobody@example.org", site.backend.settings)
    assert journalists.look_up(site.backend, unknown, "preferences").state == "unknown"


def test_one_click_as_multipart_form_data_as_rfc_8058_shows_it(site: Site) -> None:
    services.add_journalist(site.backend, "nour@example.org", "admin")
    path = urlpath(links.unsubscribe_url("email", "nour@example.org", site.backend.settings))
    boundary = "----publisher-test"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    raw = httpx.post(
        site.base + path,
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert raw.status_code == 200 and "set-cookie" not in raw.headers
    assert site.rows()["nour@example.org"]["state"] == "unsubscribed"
