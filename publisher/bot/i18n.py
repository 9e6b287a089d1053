"""The bot's words in each language: Babel catalogs under `publisher/locale`, right to left.

English msgids are the source text; `publisher/locale/<language>/LC_MESSAGES/bot.po` translates
them. The .po files are read with Babel once per language and process (no compiled .mo files to
keep in step). In a module, `_ = texts(language)` gives that language's translator, so
`_("...")` marks text for extraction and translates it at once; `N_("...")` only marks text
declared ahead of time (command descriptions) that is translated where it is used.
"""

from __future__ import annotations

import functools
import re
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "bot"
#: languages the bot answers in (the first is the fallback)
BOT_LANGUAGES = ("en", "ar")
RIGHT_TO_LEFT = frozenset({"ar"})
#: U+200F RIGHT-TO-LEFT MARK: a line that starts with it is laid out right to left even when
#: its first visible character is Latin, a digit, a "/command" or a symbol
RLM = "\u200f"
LRM = "\u200e"
# A command's slash between Arabic letters and a Latin word takes the Arabic direction and is
# shown after the word ("settings/"); a left-to-right mark before it keeps "/settings" whole.
_COMMAND = re.compile(r"(?<![^\s(])/(?=[A-Za-z])")  # at a line start or after a space
#: each language's name in itself, the same in every language (the language buttons)
ENDONYMS = {"en": "English", "ar": "العربية"}


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it here."""
    return message


def first_language(language_code: str | None) -> str:
    """The language of a chat at first contact, from the user's Telegram `language_code`."""
    return "ar" if (language_code or "").lower().startswith("ar") else "en"


def answer_language(stored: str | None, language_code: str | None) -> str:
    """The language the bot answers in: the chat's stored choice; for "both" (or no choice
    yet), the user's own language when the bot speaks it, else English."""
    if stored in BOT_LANGUAGES:
        return stored
    own = (language_code or "").split("-")[0].lower()
    if stored == "both":
        return own if own in BOT_LANGUAGES else BOT_LANGUAGES[0]
    return first_language(language_code)


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalog of a language, read once (English, or a language without one: the msgids)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Texts:
    """A language's translator: `_("msgid")` -> the text in that language."""

    __slots__ = ("language", "right_to_left", "_gettext")

    def __init__(self, language: str) -> None:
        self.language = language if language in BOT_LANGUAGES else BOT_LANGUAGES[0]
        self.right_to_left = self.language in RIGHT_TO_LEFT
        self._gettext = translations(self.language).gettext

    def __call__(self, message: str) -> str:
        return self._gettext(message)

    def lines(self, *lines: str) -> str:
        """An answer made of lines, each starting with a right-to-left mark in Arabic."""
        return "\n".join(self.directed(line) for line in lines)

    def directed(self, text: str) -> str:
        """`text` as this language reads: in a right-to-left language every line starts
        with U+200F, so Telegram lays it out right to left whatever its first character, and
        each /command is marked left to right so that it reads "/settings", not "settings/"."""
        if not self.right_to_left:
            return text
        text = _COMMAND.sub(LRM + "/", text.replace(LRM + "/", "/"))
        return "\n".join(
            line if not line or line.startswith(RLM) else RLM + line for line in text.split("\n")
        )


@functools.cache
def texts(language: str) -> Texts:
    """The translator of a language (cached)."""
    return Texts(language)
