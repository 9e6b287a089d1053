"""The live preview over HTTP: a fragment for htmx with `Vary: HX-Request`, the whole page for
anything else (a history restore too), problems swapped next to their fields, Arabic right to
left, and a hostile release shown inert."""

from __future__ import annotations

import html
import re

from tests.newsroom.conftest import Newsroom, csrf_of, post_form

HX = {"HX-Request": "true"}


def test_htmx_gets_the_fragment_and_everything_else_the_page(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get("/newsroom/releases/new").text)
    fields = {"title": "Water returns", "body": "First paragraph."}
    fragment = post_form(client, "/newsroom/preview", csrf, HX, **fields)
    assert fragment.status_code == 200 and fragment.headers["vary"] == "HX-Request"
    assert "<html" not in fragment.text and 'class="bubble' in fragment.text
    assert re.search(r'<span class="n">\d+</span>/280', fragment.text)  # the X counter
    assert re.search(r'<span class="n">\d+</span>/4096', fragment.text)  # Telegram's
    assert 'id="err-title" hx-swap-oob="true"></div>' in fragment.text  # emptied when fixed
    for headers in ({}, {**HX, "HX-History-Restore-Request": "true"}):
        page = post_form(client, "/newsroom/preview", csrf, headers, **fields)
        assert page.status_code == 200 and page.headers["vary"] == "HX-Request"
        assert page.text.startswith("<!DOCTYPE html>") and 'value="Water returns"' in page.text
        assert "hx-swap-oob" not in page.text.split('id="preview"')[1].split("</aside>")[0]


def test_problems_are_swapped_next_to_their_fields(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get("/newsroom/releases/new").text)
    answer = post_form(client, "/newsroom/preview", csrf, HX, title="", body="b")
    assert re.search(r'id="err-title" hx-swap-oob="true"><p class="error">missing', answer.text)
    answer = post_form(client, "/newsroom/preview", csrf, HX, title="T", body="b", link_url="x")
    assert re.search(r'id="err-links-0-url" hx-swap-oob="true"><p class="error">', answer.text)
    assert '<a href="#err-links-0-url">' in answer.text  # and in the summary, linked to the field


def test_an_email_preview_is_a_sandboxed_frame_and_arabic_reads_right_to_left(
    newsroom: Newsroom,
) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get("/newsroom/releases/new?lang=ar").text)
    answer = post_form(
        client, "/newsroom/preview?lang=ar", csrf, HX, title="عودة المياه", body="نص البيان.",
        language="ar", override_email_subject="موضوع خاص",
    )  # fmt: skip
    assert '<div class="chat" dir="rtl" lang="ar">' in answer.text
    frames = re.findall(r'<iframe class="frame[^"]*" sandbox="" [^>]*srcdoc="([^"]*)"', answer.text)
    assert len(frames) == 2
    email = html.unescape(frames[0])
    assert 'dir="rtl"' in email and "style=" in email
    assert f"{newsroom.base}/" not in email  # its site links point at the newsroom's copy
    assert "موضوع خاص" in answer.text and "المعاينة" not in answer.text  # chrome: the page's


def test_a_hostile_release_is_shown_inert(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get("/newsroom/releases/new").text)
    body = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))"
    answer = post_form(
        client, "/newsroom/preview", csrf, HX, title="<b>" + "T" * 300, body=body,
        override_telegram_text='<a href="javascript:alert(1)">go</a><script>alert(2)</script>',
    )  # fmt: skip
    outside = re.sub(r'srcdoc="[^"]*"', "", answer.text)
    for shown in [
        outside,
        *(html.unescape(f) for f in re.findall(r'srcdoc="([^"]*)"', answer.text)),
    ]:
        assert "<script>" not in shown and 'href="javascript:' not in shown
        assert not re.search(r"<[a-z][^>]*\son[a-z]+=", shown)
    assert "&lt;b&gt;" + "T" * 300 in outside
    assert "contains" in answer.text  # the warning names the active content
