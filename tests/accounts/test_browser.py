"""Signing in to the newsroom in a real headless Chromium (Debian's), JavaScript off, in English
and Arabic: the form, the home page, signing out. Screenshots of the sign-in page are kept in
docs/screenshots/ (newsroom-login-en.png, newsroom-login-ar.png, and the home page's
newsroom-home-*.png) for people to look at."""

from __future__ import annotations

from typing import Any

import pytest

from publisher.web.deps import SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, Newsroom
from tests.web.test_browser import browser, check_layout, shoot

__all__ = ["browser"]

WORDS = {
    "en": {
        "title": "Sign in to the newsroom",
        "username": "User name",
        "password": "Password",
        "sign_in": "Sign in",
        "home": "Newsroom",
        "role": "editor",
        "sign_out": "Sign out",
        "signed_out": "You are signed out.",
        "wrong": "The user name or the password is not right",
    },
    "ar": {
        "title": "تسجيل الدخول إلى غرفة الأخبار",
        "username": "اسم المستخدم",
        "password": "كلمة المرور",
        "sign_in": "دخول",
        "home": "غرفة الأخبار",
        "role": "محرّر",
        "sign_out": "تسجيل الخروج",
        "signed_out": "تمّ تسجيل خروجكم.",
        "wrong": "اسم المستخدم أو كلمة المرور غير صحيح",
    },
}


@pytest.mark.parametrize("language", ["en", "ar"])
def test_signing_in_and_out_through_the_form(
    newsroom: Newsroom, browser: Any, language: str
) -> None:
    words = WORDS[language]
    newsroom.add_user("amira", "editor")
    context = browser.new_context(
        java_script_enabled=False,
        locale="ar-SY" if language == "ar" else "en-GB",
        viewport={"width": 900, "height": 640},
    )
    page = context.new_page()
    problems: list[str] = []  # a stylesheet that does not load, a script error
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400
            and r.request.resource_type != "document"  # a wrong sign-in's page is a 400
            and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    try:
        page.goto(f"{newsroom.base}/newsroom/")  # not signed in: the sign-in page
        assert page.url.endswith("/newsroom/login")
        assert page.locator("h1").inner_text() == words["title"]
        check_layout(page, language)

        page.get_by_label(words["username"]).fill("amira")
        page.get_by_label(words["password"]).fill(PASSWORD)
        assert page.locator("#password").get_attribute("type") == "password"
        shoot(page, f"newsroom-login-{language}")
        page.get_by_label(words["password"]).fill("not the password")
        page.get_by_role("button", name=words["sign_in"]).click()
        assert words["wrong"] in page.locator("[role=alert]").inner_text()
        assert page.get_by_label(words["username"]).input_value() == "amira"
        assert page.get_by_label(words["password"]).input_value() == ""
        check_layout(page, language)

        page.get_by_label(words["password"]).fill(PASSWORD)
        page.get_by_role("button", name=words["sign_in"]).click()
        assert page.url.endswith("/newsroom/")
        assert page.locator("h1").inner_text() == words["home"]
        assert words["role"] in page.locator("main").inner_text()
        assert "amira" in page.locator("main").inner_text()
        check_layout(page, language)
        shoot(page, f"newsroom-home-{language}")
        [cookie] = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/newsroom"

        page.get_by_role("button", name=words["sign_out"]).click()
        assert "/newsroom/login" in page.url
        assert page.locator("[role=status]").inner_text() == words["signed_out"]
        page.goto(f"{newsroom.base}/newsroom/")
        assert page.url.endswith("/newsroom/login")
        assert problems == []
    finally:
        context.close()
