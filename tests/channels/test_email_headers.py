"""Subject, From and To as a journalist's mail client decodes them: word for word, any script.

Every check decodes the final bytes with parsers independent of ours: the stdlib's modern
parser (`policy.default`) and the RFC 2047 decoder `email.header.decode_header`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, parseaddr
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from publisher.channels.email import EmailChannel
from publisher.channels.email_mime import personalize
from publisher.release import Release, fold_lines, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.senders.smtp import to_field
from publisher.settings import get_settings

PUBLIC_URL = "https://press.example.org"
ARABIC = "الائتلاف الوطني السوري يدين هجوم ..."
ROHDE = "Robert Rohde, Germany’s Ambassador…"
ENCODED_WORD = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")
JOURNALIST = "journalist@example.org"
SENDER = "press@example.org"

CTX = RenderContext(PUBLIC_URL, 5, "Syrian National Coalition", Templates())

WORDS = [
    *"الائتلاف الوطني السوري يدين هجوم ... إدلب".split(),
    *"叙利亚 全国联盟 谴责 日本語のニュース 한국어".split(),
    "👩‍👩‍👧‍👦",  # ZWJ sequence
    "🇸🇾🇩🇪",  # flags
    "🏳️‍🌈",
    "👍🏽",
    "❤️",
    "Germany’s",
    "“quoted”",
    "‘single’",
    "Rohde,",
    "Ambassador…",
    "e\u0301\u0301",  # combining marks
    "Zoë",
    "Ωμέγα",
    "Привет",
    "שלום",
    "हिन्दी",
    "=?utf-8?q?looks_encoded?=",
    '"Doe, Jane"',
    "(comment)",
    "<angle>",
    "back\\slash",
    "Re:",
    "a",
    "x" * 90,
]
# Any character but controls (a title is one line) and lone surrogates (not text).
CHARS = st.characters(exclude_categories=("Cc", "Cs"))
WORD = st.sampled_from(WORDS) | st.text(CHARS, min_size=1, max_size=25)
SPACE = st.sampled_from([" ", " ", " ", "  ", "\t", "\n", " \u00a0 ", "\u3000"])


@st.composite
def titles(draw: st.DrawFn, max_words: int = 30, max_size: int = 300) -> str:
    """A title as a media officer might type it, spacing and all (the model normalises it)."""
    words = draw(st.lists(WORD, min_size=1, max_size=max_words))
    text = words[0]
    for word in words[1:]:
        text += draw(SPACE) + word
    text = text[:max_size]
    return draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", "  "]))


def visible(text: str) -> bool:
    """Whether anything is left once the model folds the whitespace (a blank title is invalid)."""
    return bool(fold_lines(text))


def names() -> st.SearchStrategy[str]:
    return titles(max_words=6, max_size=80).filter(visible)


def make_release(**fields: Any) -> Release:
    data: dict[str, Any] = {
        "title": "Assad regime kills dozens of civilians in Idlib",
        "date": "2020-02-11T10:00:00+02:00",
        "body": "The bombing caused massive destruction.\n",
    }
    data.update(fields)
    return release_from_mapping(data)


def render(release: Release) -> dict[str, Any]:
    return EmailChannel.render(release, body_parts(release), CTX)


def deliver(mime: str, name: str) -> bytes:
    """The message as SMTPSender.deliver sends it to a journalist called `name`."""
    return personalize(
        mime,
        to=to_field(name, JOURNALIST),
        unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/abc",
        message_id="<1@press.example.org>",
        date="Tue, 11 Feb 2020 10:00:00 +0200",
        preferences_url=f"{PUBLIC_URL}/preferences/abc",
    )


@contextmanager
def mail_from(value: str) -> Iterator[None]:
    with mock.patch.object(get_settings(), "mail_from", value):
        yield


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects
    return msg


def raw_field(raw: bytes, name: str) -> str:
    """The value of header `name` as sent, folds (CRLF and a space) included."""
    head = raw.partition(b"\r\n\r\n")[0].decode("ascii")
    found = re.search(rf"(?:^|\r\n){name}: (.*?)(?=\r\n[^ \t]|$)", head, re.S)
    assert found is not None, f"no {name} header"
    return found.group(1)


def rfc2047(value: str) -> str:
    """What an RFC 2047 decoder shows for an unstructured value (unfolded first, RFC 5322)."""
    return str(make_header(decode_header(value.replace("\r\n", ""))))


def assert_header_lines_fit(raw: bytes) -> None:
    """Lines within 998 octets; encoded words within 75, whole UTF-8, on lines within 76."""
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"\n" not in head.replace(b"\r\n", b""), "bare LF or CR"
    for line in head.decode("ascii").split("\r\n"):
        assert len(line) <= 998
        assert line.strip(), "a whitespace-only line"
        words = list(ENCODED_WORD.finditer(line))
        if words:
            assert len(line) <= 76, line
        for word in words:
            assert len(word.group(0)) <= 75, word.group(0)
            assert word.group(1).lower() == "utf-8"
            data = word.group(3)
            if word.group(2) in "bB":
                octets = base64.b64decode(data, validate=True)
            else:
                octets = binascii.a2b_qp(data.replace("_", " "), header=True)
            octets.decode("utf-8")  # no character split between two encoded words


def assert_subject(raw: bytes, subject: str) -> None:
    msg = parse(raw)
    assert msg.get_all("Subject") == [subject]
    assert not msg["Subject"].defects
    assert rfc2047(raw_field(raw, "Subject")) == subject
    assert_header_lines_fit(raw)


def assert_mailbox(raw: bytes, header: str, name: str, address: str) -> None:
    """The display name and address of `header` read back exactly, by both parsers."""
    value = raw_field(raw, header)
    shown, addr = parseaddr(value.replace("\r\n", ""))
    assert addr == address
    assert rfc2047(shown) == name
    (mailbox,) = parse(raw)[header].addresses
    assert mailbox.addr_spec == address
    pieces = [rfc2047(word.group(0)) for word in ENCODED_WORD.finditer(value)]
    if len(pieces) > 1:
        # policy.default keeps the fold between two encoded words of a display name as a space,
        # where RFC 2047 6.2 (and mail clients) drop it; that is all it may differ by
        assert "".join(pieces) == name
        assert mailbox.display_name == " ".join(pieces)
    else:
        assert mailbox.display_name == name
    assert_header_lines_fit(raw)


@pytest.mark.parametrize(
    "title",
    [
        ARABIC,
        ROHDE,
        # the 3.11 folder broke the line between "Germany’s" and "Ambassador…", dropping the space
        "Coalition President meets " + ROHDE,
        "الائتلاف الوطني السوري يدين هجوم قوات النظام على المدنيين في ريف إدلب الجنوبي "
        "ويطالب بتحرك دولي عاجل",
        "Ein" + "wort" * 80,
        "x" * 1200,  # one ASCII word too long for a line: encoded, not cut or overlong
        "👩‍👩‍👧‍👦" * 30,
    ],
)
def test_subject_decodes_to_the_title_word_for_word(title: str) -> None:
    payload = render(make_release(title=title))
    assert payload["subject"] == title
    raw = payload["mime"].encode("ascii")
    assert_subject(raw, title)
    assert_subject(deliver(payload["mime"], "Zoë Müller"), title)


@pytest.mark.parametrize(
    "title",
    [
        "Assad regime kills dozens of civilians in Idlib",
        "The Syrian National Coalition condemns the attack on civilians in southern Idlib "
        "and calls for urgent international action under resolution 2254",
    ],
)
def test_an_ascii_subject_stays_readable(title: str) -> None:
    raw = render(make_release(title=title))["mime"].encode("ascii")
    value = raw_field(raw, "Subject")
    assert "=?" not in value
    assert value.replace("\r\n", "") == title
    assert all(len(line) <= 78 for line in f"Subject: {value}".split("\r\n"))
    assert_subject(raw, title)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles().filter(visible))
@example(ARABIC)
@example(ROHDE)
@example("Coalition President meets " + ROHDE)
@example("  many   spaces\tand\nbreaks  ")
@example("一")
@example("\u3000 \u200b ")
def test_any_title_reaches_the_journalist_as_it_is(title: str) -> None:
    release = make_release(title=title)
    assert release.title == " ".join(title.split())  # the model's normalised title
    payload = render(release)
    assert payload["subject"] == release.title  # what render --json shows
    assert_subject(payload["mime"].encode("ascii"), release.title)
    assert_subject(deliver(payload["mime"], "سارة الأحمد"), release.title)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles())
@example(ARABIC)
@example(ROHDE)
def test_any_subject_override_reaches_the_journalist_as_it_is(subject: str) -> None:
    payload = render(make_release(overrides={"email": {"subject": subject}}))
    expected = fold_lines(subject) or "Assad regime kills dozens of civilians in Idlib"
    assert payload["subject"] == expected
    assert_subject(payload["mime"].encode("ascii"), expected)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names())
@example("Press Office")
@example("Doe, Press")
@example('The "Press" Office')
@example("الائتلاف الوطني السوري")
@example('Zoë "Z", Müller \\ Office')
@example("Long " + "Name " * 40)
def test_any_sender_name_is_shown_as_it_is(name: str) -> None:
    with mail_from(to_field(name, SENDER)):
        payload = render(make_release(title=ARABIC))
    raw = payload["mime"].encode("ascii")
    assert_mailbox(raw, "From", " ".join(name.split()), SENDER)
    assert_mailbox(deliver(payload["mime"], "Zoë"), "From", " ".join(name.split()), SENDER)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names())
@example("Jane Doe")
@example("Doe, Jane")
@example("سارة الأحمد")
@example("عبد الرحمن محمد الأحمد الحسيني العلي")
@example('Zoë "Z", Müller')
@example("=?utf-8?q?Eve?=")
def test_any_journalist_name_is_shown_as_it_is(name: str) -> None:
    mime = render(make_release(title=ROHDE))["mime"]
    raw = deliver(mime, name)
    assert_mailbox(raw, "To", " ".join(name.split()), JOURNALIST)
    assert_subject(raw, ROHDE)


def test_a_mail_from_without_an_address_fails_the_render() -> None:
    from publisher.errors import RenderError

    with mail_from("Press Office"), pytest.raises(RenderError, match="MAIL_FROM"):
        render(make_release())


def stdlib_assemble(**given: str) -> str:
    """`assemble` as it was, by the stdlib's generator: the reference it is held to."""
    from publisher.channels import email_mime as m

    mime_policy = policy.SMTP.clone(refold_source="none")
    msg = EmailMessage(policy=mime_policy)
    msg.set_raw("From", m.mailbox(given["mail_from"], "From"))
    msg.set_raw("To", m.PLACEHOLDER_TO)
    msg.set_raw("Subject", m.header_text(given["subject"], "Subject"))
    msg.set_raw("Date", m.PLACEHOLDER_DATE)
    msg.set_raw("Message-ID", m.PLACEHOLDER_MESSAGE_ID)
    msg.set_raw("MIME-Version", "1.0")
    msg.set_raw("Content-Language", given["language"])
    msg.set_raw("List-Id", given["list_id_value"])
    msg.set_raw("List-Unsubscribe", f"<{m.unsubscribe_placeholder(given['public_url'])}>")
    msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    text_qp, html_qp = given["text_qp"], given["html_qp"]
    digest = hashlib.sha256((text_qp + html_qp).encode()).hexdigest()[:32]
    msg.set_raw("Content-Type", f'multipart/alternative; boundary="=_publisher_{digest}"')
    for subtype in ("plain", "html"):
        part = EmailMessage(policy=mime_policy)
        part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
        part.set_raw("Content-Transfer-Encoding", "quoted-printable")
        part.set_payload(f"=_payload_{subtype}")
        msg.attach(part)
    head, _, structure = msg.as_bytes().decode("ascii").partition("\r\n\r\n")
    for subtype, payload in (("plain", text_qp), ("html", html_qp)):
        structure = structure.replace(f"=_payload_{subtype}", payload.replace("\n", "\r\n"), 1)
    return f"{head}\r\n\r\n{structure}"


QP_TEXT = st.text(alphabet="abc =\n.-<>/:\"'", max_size=300)


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(min_size=1, max_size=300).filter(lambda s: fold_lines(s) != ""),
    name=st.sampled_from(["", "Press Office", "المكتب الإعلامي", 'Zoë, "the" Office']),
    language=st.sampled_from(["en", "ar", "zh-Hant-TW"]),
    text_qp=QP_TEXT,
    html_qp=QP_TEXT,
)
@example(subject=ARABIC, name="المكتب الإعلامي", language="ar", text_qp="a\n", html_qp="")
def test_the_written_message_is_the_one_the_stdlib_generator_writes(
    subject: str, name: str, language: str, text_qp: str, html_qp: str
) -> None:
    from publisher.channels.email_mime import assemble, list_id

    mail_from = formataddr((name, "press@example.org"))
    given = {
        "mail_from": mail_from,
        "subject": fold_lines(subject),
        "language": language,
        "list_id_value": list_id("Press Office releases", "releases", mail_from),
        "public_url": "https://press.example.org",
        "text_qp": text_qp,
        "html_qp": html_qp,
    }
    written = assemble(**given)
    assert written == stdlib_assemble(**given)
    parsed = BytesParser(policy=policy.default).parsebytes(written.encode("ascii"))
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
