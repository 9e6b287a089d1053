"""The catalogs: every message the bot says has an Arabic translation, placeholders kept."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from publisher.bot import i18n
from publisher.bot.i18n import RLM, answer_language, first_language, texts

BOT = Path(i18n.__file__).resolve().parent
CATALOG = i18n.LOCALE_DIR / "ar" / "LC_MESSAGES" / "bot.po"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def msgids() -> set[str]:
    found = set()
    for path in sorted(BOT.glob("*.py")):
        for _lineno, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"_": None, "N_": None}
        ):
            assert isinstance(message, str), (path, message)
            found.add(message)
    return found


def test_every_message_of_the_bot_has_an_arabic_translation() -> None:
    used = msgids()
    assert len(used) > 20  # the extraction found the handlers' and views' texts
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="ar", domain="bot")
    entries = {m.id: m for m in catalog if m.id}
    assert sorted(used - set(entries)) == []  # nothing said in English only
    assert sorted(set(entries) - used) == []  # nothing left over from old code
    for msgid in used:
        entry = entries[msgid]
        assert isinstance(entry.string, str) and entry.string.strip(), msgid
        assert not entry.fuzzy, msgid
        assert PLACEHOLDER.findall(entry.string) == PLACEHOLDER.findall(msgid), msgid
        assert re.search("[\u0600-\u06ff]", entry.string) or "/{command}" in msgid, msgid
        assert texts("ar")(msgid) == entry.string


def test_english_is_the_source_and_arabic_lines_read_right_to_left() -> None:
    assert texts("en")("Saved.") == "Saved."
    ar = texts("ar")
    assert ar.lines("/start", "", "نص") == f"{RLM}\u200e/start\n\n{RLM}نص"
    assert ar.directed(f"{RLM}x\ny") == f"{RLM}x\n{RLM}y"  # never doubled
    assert texts("fr").language == "en"  # a language the bot does not speak: English


def test_which_language_the_bot_answers_in() -> None:
    assert [first_language(c) for c in ("ar", "ar-EG", "AR", "en", "fr", None)] == [
        "ar",
        "ar",
        "ar",
        "en",
        "en",
        "en",
    ]
    assert answer_language("ar", "en") == "ar"  # the stored choice wins
    assert answer_language("en", "ar") == "en"
    assert answer_language("both", "ar-SA") == "ar"  # both: the user's own, if spoken
    assert answer_language("both", "de") == "en"
    assert answer_language(None, "ar") == "ar"  # first contact
