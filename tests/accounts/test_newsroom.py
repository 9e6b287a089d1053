"""Signing in to the newsroom over HTTP, against the real app under uvicorn and the real Redis:
sessions, cookies, CSRF, the same answer for every wrong sign-in, the limits per account and
per client, sign-out and disabling, roles on pages, and bearer tokens on the API."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from publisher.services import accounts
from publisher.web.deps import SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, Newsroom, location


def session_cookie(answer: httpx.Response) -> str:
    """The Set-Cookie header of the session cookie in an answer."""
    [header] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    return header


def normalised(answer: httpx.Response, *names: str) -> str:
    """A page without what differs from one render to the next (its CSRF token, the name
    typed into the form)."""
    text = re.sub(r'name="csrf" value="[^"]+"', 'name="csrf" value=""', answer.text)
    for name in names:
        text = text.replace(name, "NAME")
    return text


def test_signing_in_opens_the_home_page_with_the_users_name_and_role(
    newsroom: Newsroom,
) -> None:
    newsroom.add_user("Amira", "editor")
    client = newsroom.client()
    away = client.get("/newsroom/")
    assert away.status_code == 303 and location(away) == "/newsroom/login"

    answer = newsroom.sign_in(client, "amira")
    assert answer.status_code == 303 and location(answer) == "/newsroom/"
    cookie = session_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/newsroom" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    home = client.get("/newsroom/")
    assert home.status_code == 200
    assert "Signed in as" in home.text and ">amira<" in home.text and "editor" in home.text
    assert 'action="/newsroom/logout"' in home.text
    assert home.headers["cache-control"] == "no-store"
    assert "<script" not in home.text

    # Redis keeps the session by a digest only: the cookie's secret is nowhere in it.
    secret = client.cookies.get(SESSION_COOKIE, path="/newsroom")
    assert secret and len(secret) >= 40
    assert secret.encode() not in repr(newsroom.everything()).encode()
    events = newsroom.backend.store.account_events()
    assert [(e["type"], e["who"]) for e in events][-1] == ("signed in", "amira")

    again = client.get("/newsroom/login")  # signed in already: straight on
    assert again.status_code == 303 and location(again) == "/newsroom/"
    bare = client.get("/newsroom")
    assert bare.is_redirect and location(bare) == "/newsroom/"


def test_the_newsroom_pages_carry_the_security_headers_and_their_stylesheet(
    newsroom: Newsroom,
) -> None:
    client = newsroom.client()
    for path in ("/newsroom/login", "/newsroom/login?lang=ar"):
        page = client.get(path)
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert '<link rel="stylesheet" href="/static/newsroom.css">' in page.text
        assert "<script" not in page.text and " style=" not in page.text
    css = client.get("/static/newsroom.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert 'input[type="password"]' in css.text


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(newsroom: Newsroom) -> None:
    newsroom.add_user("amira")
    newsroom.add_user("karim")
    accounts.disable_user(newsroom.backend, "karim", "tests")
    answers = {
        "wrong password": newsroom.sign_in(newsroom.client(), "amira", "not the password!"),
        "unknown user": newsroom.sign_in(newsroom.client(), "nobody", PASSWORD),
        "disabled user": newsroom.sign_in(newsroom.client(), "karim", PASSWORD),
        "empty password": newsroom.sign_in(newsroom.client(), "amira", ""),
    }
    statuses = {how: a.status_code for how, a in answers.items()}
    assert set(statuses.values()) == {400}, statuses
    pages = {how: normalised(a, "amira", "nobody", "karim") for how, a in answers.items()}
    assert len(set(pages.values())) == 1, "the pages differ"
    headers = {
        how: sorted(k for k in a.headers if k != "content-length") for how, a in answers.items()
    }
    assert len({tuple(h) for h in headers.values()}) == 1
    page = answers["unknown user"]
    assert "The user name or the password is not right" in page.text
    assert 'value="nobody"' in page.text  # the name stays in the form, the password does not
    assert PASSWORD not in page.text
    assert not any(h.startswith(SESSION_COOKIE) for h in page.headers.get_list("set-cookie"))
    assert not newsroom.redis.keys("pub:session:*")


def test_the_sixth_attempt_on_one_account_within_a_minute_gets_429(newsroom: Newsroom) -> None:
    newsroom.add_user("amira")
    newsroom.add_user("karim")
    for _ in range(5):  # each from another client: only the account's limit counts
        assert newsroom.sign_in(newsroom.client(), "amira", "a wrong guess!").status_code == 400
    refused = newsroom.sign_in(newsroom.client(), "Amira", PASSWORD)  # even the right one
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many attempts to sign in" in refused.text and 'name="password"' in refused.text
    assert not newsroom.redis.keys("pub:session:*")
    # Another account is not held up, and nor is a stranger's name.
    assert newsroom.sign_in(newsroom.client(), "karim").status_code == 303
    assert newsroom.sign_in(newsroom.client(), "nobody").status_code == 400


def test_the_sixth_attempt_from_one_client_within_a_minute_gets_429(newsroom: Newsroom) -> None:
    newsroom.add_user("amira")
    client = newsroom.client("192.0.2.77")
    for n in range(5):  # unknown names and a wrong password, all from one address
        name = f"guess{n}" if n < 4 else "amira"
        assert newsroom.sign_in(client, name, "a wrong guess!").status_code == 400
    refused = newsroom.sign_in(client, "amira", PASSWORD)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    unknown = newsroom.sign_in(client, "someone-else", PASSWORD)
    assert unknown.status_code == 429  # the same answer, known or not
    assert normalised(refused, "amira") == normalised(unknown, "someone-else")
    assert newsroom.sign_in(newsroom.client("192.0.2.78"), "amira").status_code == 303


def test_signing_out_ends_the_session_at_once(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("amira")
    secret = client.cookies.get(SESSION_COOKIE, path="/newsroom")
    token = newsroom.csrf(client, "/newsroom/")
    answer = client.post("/newsroom/logout", data={"csrf": token})
    assert answer.status_code == 303 and location(answer) == "/newsroom/login?out=1"
    deleted = session_cookie(answer)
    assert "Max-Age=0" in deleted and "Path=/newsroom" in deleted
    assert "You are signed out" in client.get(location(answer)).text

    stolen = newsroom.client()  # someone who kept a copy of the cookie
    stolen.cookies.set(SESSION_COOKIE, secret or "", path="/newsroom")
    assert location(stolen.get("/newsroom/")) == "/newsroom/login"
    assert not newsroom.redis.keys("pub:session:*")
    assert newsroom.backend.store.account_events()[-1]["type"] == "signed out"


def test_disabling_a_user_ends_all_their_sessions_at_once(newsroom: Newsroom) -> None:
    first = newsroom.signed_in("amira")
    second = newsroom.client()
    assert newsroom.sign_in(second, "amira").status_code == 303
    other = newsroom.signed_in("karim")
    for browser in (first, second, other):
        assert browser.get("/newsroom/").status_code == 200

    done = accounts.disable_user(newsroom.backend, "amira", "admin-tests")
    assert done == accounts.Disabled(already=False, sessions_ended=2)
    for browser in (first, second):
        old = browser.get("/newsroom/")
        assert old.status_code == 303 and location(old) == "/newsroom/login"
        assert browser.get(location(old)).status_code == 200  # the sign-in page
    assert other.get("/newsroom/").status_code == 200  # someone else's session stays
    assert newsroom.sign_in(newsroom.client(), "amira").status_code == 400
    event = newsroom.backend.store.account_events()[-1]  # a refused sign-in is no event
    assert (event["type"], event["who"], event["user"]) == ("user disabled", "admin-tests", "amira")


@pytest.mark.parametrize("how", ["missing", "forged", "another browser's", "no cookie"])
def test_forms_without_a_valid_csrf_token_are_refused_and_nothing_changes(
    newsroom: Newsroom, how: str
) -> None:
    newsroom.add_user("amira")
    client = newsroom.client()
    token = newsroom.csrf(client)
    data = {"username": "amira", "password": PASSWORD}
    if how == "forged":
        data["csrf"] = token[:-4] + "AAAA"
    elif how == "another browser's":
        data["csrf"] = newsroom.csrf(newsroom.client())
    elif how == "no cookie":
        data["csrf"] = token
        client.cookies.clear()
    before = newsroom.everything()
    refused = client.post("/newsroom/login", data=data)
    assert refused.status_code == 403
    assert "this form works only from our own page" in refused.text
    assert newsroom.everything() == before  # no session, no event, no attempt counted

    signed_in = newsroom.signed_in("karim")
    signed_in_token = newsroom.csrf(signed_in, "/newsroom/")
    logout: dict[str, str] = {}
    if how == "forged":
        logout["csrf"] = signed_in_token[:-4] + "AAAA"
    elif how == "another browser's":
        logout["csrf"] = newsroom.csrf(newsroom.client())
    elif how == "no cookie":
        logout["csrf"] = signed_in_token
        secret = signed_in.cookies.get(SESSION_COOKIE, path="/newsroom") or ""
        signed_in.cookies.clear()
        signed_in.cookies.set(SESSION_COOKIE, secret, path="/newsroom")
    before = newsroom.everything()
    kept = signed_in.post("/newsroom/logout", data=logout)
    assert kept.status_code == 403
    assert "Please send the form again" in kept.text
    assert newsroom.everything().keys() == before.keys()  # the session is still there
    assert signed_in.get("/newsroom/").status_code == 200


def test_the_session_cookie_is_secure_when_public_url_is_https(https_newsroom: Newsroom) -> None:
    https_newsroom.add_user("amira")
    answer = https_newsroom.sign_in(https_newsroom.client(), "amira")
    assert answer.status_code == 303
    cookie = session_cookie(answer)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_after_signing_in_the_page_asked_for_opens_and_never_another_site(
    newsroom: Newsroom,
) -> None:
    newsroom.add_user("lina", "admin")
    client = newsroom.client()
    away = client.get("/newsroom/users")
    assert away.status_code == 303
    assert location(away) == "/newsroom/login?next=%2Fnewsroom%2Fusers"
    form = client.get(location(away))
    assert 'name="next" value="/newsroom/users"' in form.text
    done = newsroom.sign_in(client, "lina", next="/newsroom/users")
    assert location(done) == "/newsroom/users"
    for hostile in ("https://evil.example/", "//evil.example/newsroom/", "/subscribe", "/\\evil"):
        other = newsroom.client()
        answer = newsroom.sign_in(other, "lina", next=hostile)
        assert answer.status_code == 303 and location(answer) == "/newsroom/", hostile


def test_a_page_beyond_the_users_role_gets_403_and_an_admin_gets_it(newsroom: Newsroom) -> None:
    officer = newsroom.signed_in("omar", "officer")
    home = officer.get("/newsroom/")
    assert "media officer" in home.text and 'href="/newsroom/users"' not in home.text
    refused = officer.get("/newsroom/users")
    assert refused.status_code == 403
    assert "Not allowed" in refused.text and "media officer" in refused.text
    assert 'action="/newsroom/logout"' in refused.text  # still signed in, and can sign out
    editor = newsroom.signed_in("amira", "editor")
    assert editor.get("/newsroom/users").status_code == 403

    admin = newsroom.signed_in("lina", "admin")
    assert 'href="/newsroom/users"' in admin.get("/newsroom/").text
    listed = admin.get("/newsroom/users")
    assert listed.status_code == 200
    for name in ("omar", "amira", "lina"):
        assert f'<bdi class="name">{name}</bdi>' in listed.text
    assert "$argon2" not in listed.text


def test_the_pages_read_right_to_left_in_arabic(newsroom: Newsroom) -> None:
    newsroom.add_user("amira")
    client = newsroom.client()
    page = client.get("/newsroom/login", headers={"Accept-Language": "ar-SY,ar;q=0.9"})
    assert '<html lang="ar" dir="rtl">' in page.text and "تسجيل الدخول" in page.text
    switched = client.get("/newsroom/login?lang=en", headers={"Accept-Language": "ar"})
    assert '<html lang="en" dir="ltr">' in switched.text
    wrong = newsroom.sign_in(client, "amira", "not the password!")
    assert wrong.status_code == 400 and '<html lang="en"' in wrong.text
    token = newsroom.csrf(client, "/newsroom/login?lang=ar")
    data = {"username": "amira", "password": "wrong again!!", "csrf": token}
    arabic = client.post("/newsroom/login?lang=ar", data=data)
    assert arabic.status_code == 400 and "غير صحيح" in arabic.text and 'dir="rtl"' in arabic.text
    data["password"] = PASSWORD
    done = client.post("/newsroom/login?lang=ar", data=data)
    assert location(done) == "/newsroom/?lang=ar"
    home = client.get(location(done))
    assert 'dir="rtl"' in home.text and "محرّر" in home.text


def test_the_api_refuses_missing_wrong_and_revoked_tokens_with_401(newsroom: Newsroom) -> None:
    client = newsroom.client()
    secret = accounts.create_token(newsroom.backend, "cms", "editor", "tests")
    for headers in ({}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer"}):
        missing = client.get("/api/v1/whoami", headers=headers)
        assert missing.status_code == 401, headers
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 401
    wrong = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret[:-2]}xx"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]

    me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json() == {"name": "cms", "role": "editor", "kind": "token"}
    [listed] = accounts.list_tokens(newsroom.backend)
    assert listed.last_used is not None

    accounts.revoke_token(newsroom.backend, "cms", "tests")
    revoked = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert revoked.status_code == 401 and revoked.json()["title"] == "Unauthorized"
    # A signed-in user's cookie is no API token.
    browser = newsroom.signed_in("amira", "admin")
    cookie = browser.cookies.get(SESSION_COOKIE, path="/newsroom") or ""
    as_token = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {cookie}"})
    assert as_token.status_code == 401


def test_a_token_beyond_its_role_gets_403(newsroom: Newsroom) -> None:
    client = newsroom.client()
    editor = accounts.create_token(newsroom.backend, "cms", "editor", "tests")
    admin = accounts.create_token(newsroom.backend, "ops", "admin", "tests")
    refused = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {editor}"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "editor" in refused.json()["detail"]
    listed = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"})
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["cms", "ops"]
    assert editor not in listed.text and admin not in listed.text
    assert client.get("/api/v1/tokens").status_code == 401


def test_no_password_or_token_reaches_the_logs(
    newsroom: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_password = "a secret passphrase 7f3a"
    newsroom.add_user("amira", "admin", secret_password)
    client = newsroom.client()
    assert newsroom.sign_in(client, "amira", "the wrong one, 9c2e").status_code == 400
    assert newsroom.sign_in(client, "amira", secret_password).status_code == 303
    session = client.cookies.get(SESSION_COOKIE, path="/newsroom") or ""
    token = accounts.create_token(newsroom.backend, "cms", "editor", "tests")
    assert client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).is_success
    accounts.revoke_token(newsroom.backend, "cms", "tests")
    client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    client.post("/newsroom/logout", data={"csrf": newsroom.csrf(client, "/newsroom/")})

    logged = "\n".join(  # the app's records: the test's own HTTP client logs what it got
        f"{r.getMessage()} {getattr(r, 'fields', {})!r} {r.args!r} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "signed in" in logged and "token created" in logged  # the events are logged...
    for secret in (secret_password, "the wrong one, 9c2e", token, session):
        assert secret not in logged  # ...and no secret with them


def test_a_user_keeps_the_language_they_choose_on_every_page(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("amira", "officer")
    english = client.get("/newsroom/", headers={"Accept-Language": "en"})
    assert 'dir="ltr"' in english.text and "/newsroom/language" not in english.text
    arabic = client.get("/newsroom/?lang=ar")
    assert 'action="/newsroom/language"' in arabic.text
    token = re.search(r'name="csrf" value="([^"]+)"', arabic.text)
    assert token
    refused = client.post("/newsroom/language", data={"language": "ar", "next": "/newsroom/"})
    assert refused.status_code == 403
    assert 'dir="ltr"' in client.get("/newsroom/", headers={"Accept-Language": "en"}).text
    kept = client.post(
        "/newsroom/language",
        data={"language": "ar", "next": "/newsroom/", "csrf": token.group(1)},
    )
    assert kept.status_code == 303 and location(kept) == "/newsroom/"
    again = client.get("/newsroom/", headers={"Accept-Language": "en"})
    assert 'lang="ar" dir="rtl"' in again.text  # their choice beats the browser's
    assert "/newsroom/language" not in again.text
    assert 'dir="ltr"' in client.get("/newsroom/?lang=en").text  # the switch still works
    other = newsroom.signed_in("james", "officer")
    assert 'dir="ltr"' in other.get("/newsroom/", headers={"Accept-Language": "en"}).text
