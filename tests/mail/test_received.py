"""What every release email carries, read from the bytes the SMTP peer received, English and
Arabic: the list headers (RFC 2369, 2919, 8058), a Message-ID on MAIL_FROM's domain, a text
and an HTML part, and a visible footer with the reason, the organisation's name and postal
address, and working preferences and unsubscribe links in the journalist's language."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage

import pytest

from publisher.links import read_token
from publisher.settings import Settings
from tests.channels.test_email import check_html
from tests.mail.mailing import DOMAIN, ENV, JOURNALISTS

SETTINGS = Settings(_env_file=None, **{k.lower(): v for k, v in ENV.items()})  # type: ignore[arg-type,call-arg]
FOOTER = {
    "en": {
        "why": "You get this email because you chose to receive each release in Press "
        "Releases from Press Office as it goes out.",
        "preferences": "Change what you receive",
        "unsubscribe": "Unsubscribe",
    },
    "ar": {
        "why": "تصلك هذه الرسالة لأنك اخترت أن تتلقى كل بيان في «بيانات صحفية» من Press Office "
        "فور صدوره.",
        "preferences": "تعديل اختياراتك",
        "unsubscribe": "إلغاء الاشتراك",
    },
}


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage) and not message.defects
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    plain, page = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and page is not None
    return plain.get_content(), page.get_content()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_list_headers_name_this_journalist(
    signed_mail: dict[str, bytes], language: str
) -> None:
    message = parse(signed_mail[language])
    name, address = JOURNALISTS[language]
    assert message["To"].addresses[0].addr_spec == address
    unsubscribe = re.fullmatch(r"<(https://press\.example\.org/unsubscribe/[\w.-]+)>",
                               message["List-Unsubscribe"])  # fmt: skip
    assert unsubscribe, message["List-Unsubscribe"]
    token = unsubscribe.group(1).rsplit("/", 1)[1]
    assert read_token(token, "unsubscribe", SETTINGS) == ("email", address)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == f'"Press Office releases" <releases.{DOMAIN}>'
    assert re.fullmatch(rf"<[\w.-]+@{re.escape(DOMAIN)}>", message["Message-ID"])
    assert message["Date"].datetime is not None
    assert message["MIME-Version"] == "1.0"
    assert message["Content-Language"] == language
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_footer_says_why_who_where_and_how_to_change_it(
    signed_mail: dict[str, bytes], language: str
) -> None:
    message = parse(signed_mail[language])
    text, page = bodies(message)
    _, address = JOURNALISTS[language]
    html = check_html(page)
    visible = " ".join("".join(html.text).split())
    words = FOOTER[language]
    for shown in (text, visible):
        flat = " ".join(shown.split())
        assert words["why"] in flat
        assert "Press Office" in flat
        assert "Office 12, 34 Example Street" in flat and "Istanbul 34000, Türkiye" in flat
        assert words["preferences"] in flat and words["unsubscribe"] in flat
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    preferences = [h for h in html.hrefs if "/preferences/" in h]
    assert len(preferences) == 1 and preferences[0] in text
    assert read_token(preferences[0].rsplit("/", 1)[1], "preferences", SETTINGS) == (
        "email",
        address,
    )
    assert unsubscribe in html.hrefs and unsubscribe in text
    assert "PUBLISHER-" not in text and "PUBLISHER-" not in page  # no placeholder left
    # the footer comes last, after the release
    assert text.rstrip().endswith(unsubscribe)
    assert visible.index(words["why"]) > visible.index("2020")


def test_the_arabic_email_reads_right_to_left(signed_mail: dict[str, bytes]) -> None:
    _, page = bodies(parse(signed_mail["ar"]))
    assert re.search(r'<html lang="ar" dir="rtl"', page)
    assert re.search(r'<div class="wrapper" dir="rtl" lang="ar"', page)
    footer = page[page.index('class="footer"') :]
    assert "تعديل اختياراتك" in footer and "إلغاء الاشتراك" in footer


def test_each_journalist_gets_links_of_their_own(signed_mail: dict[str, bytes]) -> None:
    english, arabic = (parse(signed_mail[lang]) for lang in ("en", "ar"))
    assert english["List-Unsubscribe"] != arabic["List-Unsubscribe"]
    assert english["Message-ID"] != arabic["Message-ID"]
