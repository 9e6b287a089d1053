"""The web pages' Arabic catalog: every English word translated for its current English,
placeholders kept, nothing left over, readable by gettext itself, and refreshed without churn."""

from __future__ import annotations

import gettext
import re
import shutil
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from publisher.web.words import (
    TRANSLATED_FROM,
    WORDS,
    catalog_path,
    read_catalog,
    translated,
    update_catalog,
    words,
)

CATALOG = catalog_path("ar")
PLACEHOLDER = re.compile(r"\{(\w*)\}")
ENGLISH = WORDS["en"]


def test_every_word_has_an_arabic_translation_made_for_its_english() -> None:
    catalog = read_catalog(CATALOG)
    entries = {message.context: message for message in catalog if message.id}
    assert len(ENGLISH) > 300  # the three modules' words are all there
    assert sorted(ENGLISH.keys() - entries.keys()) == []  # nothing shown in English only
    assert sorted(str(key) for key in entries.keys() - ENGLISH.keys()) == []  # nothing left over
    assert not catalog.obsolete
    for key, english in ENGLISH.items():
        entry = entries[key]
        assert entry.id == english, key  # translated from the current English
        assert not entry.fuzzy, key
        assert isinstance(entry.string, str) and entry.string.strip(), key
        assert set(PLACEHOLDER.findall(entry.string)) == set(PLACEHOLDER.findall(english)), key
        assert re.search("[\u0600-\u06ff]", entry.string), key
    assert words("ar") == {key: entries[key].string for key in ENGLISH}


def test_the_pages_get_the_same_words_as_before_the_catalog() -> None:
    ar = words("ar")
    assert ar["subscribe_title"] == "البيانات الصحفية عبر البريد الإلكتروني"
    assert ar["compose_release_id"] == "البيان {id}"
    assert ar["home_intro"] == "اكتب البيانات الصحفية ووافق عليها وانشرها، وتابع إيصالها."
    assert ar["signed_in_as"] == "أنتم مسجَّلون باسم {name}، بصفة {role}."
    assert words("en")["subscribe_title"] == "Press releases by email"
    assert words("fr") is ENGLISH


def test_gettext_reads_the_compiled_catalog_the_same() -> None:
    compiled = BytesIO()
    write_mo(compiled, read_catalog(CATALOG))
    compiled.seek(0)
    stdlib = gettext.GNUTranslations(compiled)
    for key, english in ENGLISH.items():
        assert stdlib.pgettext(key, english) == WORDS["ar"][key], key


def test_a_word_without_a_usable_translation_stays_english() -> None:
    catalog = Catalog(locale="ar", domain="web")
    catalog.add("Saved.", "تمّ الحفظ.", context="saved")
    catalog.add("Empty", "", context="empty")
    catalog.add("Fuzzy", "مبهم", flags=["fuzzy"], context="fuzzy")
    catalog.add("Old English", "قديم", context="changed")
    english = {
        "saved": "Saved.",
        "empty": "Empty",
        "fuzzy": "Fuzzy",
        "changed": "New English",
        "missing": "Missing",
    }
    assert translated(english, catalog) == english | {"saved": "تمّ الحفظ."}


def test_refreshing_an_unchanged_catalog_changes_nothing(tmp_path: Path) -> None:
    copy = tmp_path / "web.po"
    shutil.copyfile(CATALOG, copy)
    assert update_catalog(copy) == []
    assert copy.read_bytes() == CATALOG.read_bytes()


def test_refreshing_keeps_translations_and_marks_what_changed(tmp_path: Path) -> None:
    copy = tmp_path / "web.po"
    shutil.copyfile(CATALOG, copy)
    english = {
        "switch_language": ENGLISH["switch_language"],  # unchanged
        "subscribe_intro": "Changed: " + ENGLISH["subscribe_intro"],
        "brand_new": "Brand new",
    }  # every other word is no longer defined
    sources = {"publisher/web/words.py": english}
    assert update_catalog(copy, sources) == ["subscribe_intro", "brand_new"]
    refreshed = copy.read_bytes()
    assert update_catalog(copy, sources) == ["subscribe_intro", "brand_new"]
    assert copy.read_bytes() == refreshed  # a second run is stable, fuzzy notes included

    catalog = read_catalog(copy)
    assert [message.context for message in catalog if message.id] == list(english)
    changed = catalog.get(english["subscribe_intro"], context="subscribe_intro")
    assert changed is not None and changed.fuzzy
    assert changed.string == WORDS["ar"]["subscribe_intro"]  # kept as the translator's start
    assert " ".join(changed.auto_comments).startswith(TRANSLATED_FROM + "For journalists")
    new = catalog.get("Brand new", context="brand_new")
    assert new is not None and new.string == "" and not new.fuzzy
    assert translated(english, catalog) == english | {
        "switch_language": WORDS["ar"]["switch_language"]
    }
