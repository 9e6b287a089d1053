"""The web pages' words in English and Arabic, and how a page picks its language.

Each page gets `t`, the words of its language; `{organisation}`, `{address}` and `{minutes}`
are filled in by the template (they are escaped there like any other value).

English is the source text, defined here and in `words_compose.py` and `words_releases.py`.
The Arabic is the Babel catalog `publisher/locale/ar/LC_MESSAGES/web.po`, read once at import
(no compiled .mo file to keep in step): one message per word, its msgctxt the key and its msgid
the English. After changing English words, refresh the catalog and translate what it lists:

    python -m publisher.web.words --update-catalog
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from publisher.services.accounts import INTERFACE_LANGUAGES
from publisher.web import words_compose, words_releases

LANGUAGES = INTERFACE_LANGUAGES
RIGHT_TO_LEFT = frozenset({"ar"})
#: each language's name in itself (the language switch, the language choice)
ENDONYMS = {"en": "English", "ar": "العربية"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "web"
CATALOG_WIDTH = 100  # the .po lines' width, as in bot.po
#: how a fuzzy message's `#.` comment names the English its translation was made for
TRANSLATED_FROM = "translated from: "
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds `publisher/`

#: the words of the public pages and the newsroom's sign-in, in English
_ENGLISH: dict[str, str] = {
    "skip": "Skip to the content",
    "switch_language": "Language",
    "optional": "optional",
    "subscribe_title": "Press releases by email",
    "subscribe_intro": (
        "For journalists and editors: get {organisation}'s press releases as they go out, "
        "or one briefing a day. We first send you an email to confirm your address."
    ),
    "field_email": "Email address",
    "field_name": "Your name",
    "field_outlet": "Outlet",
    "field_outlet_hint": "The newspaper, agency or programme you work for.",
    "field_language": "Language of the releases",
    "field_beats": "Topics",
    "field_beats_hint": "Choose none to get every topic.",
    "no_beats_yet": "Every topic: none has been published yet.",
    "field_cadence": "How often",
    "cadence_instant": "Each release as it goes out",
    "cadence_daily": "One daily briefing",
    "cadence_both": "Both",
    "sign_up": "Sign up",
    "privacy": (
        "We use your address only to send you what you ask for. Every email has a link "
        "to change your choices or to unsubscribe."
    ),
    "error_summary": "Please check the form:",
    "error_email": "Enter an email address, like name@example.org.",
    "error_language": "Choose one of the languages.",
    "error_beats": "Choose topics from the list.",
    "error_cadence": "Choose how often you want to hear from us.",
    "error_name": "Keep it under 200 characters.",
    "error_outlet": "Keep it under 200 characters.",
    "sent_title": "Check your inbox",
    "sent_body": (
        "We have sent a message to {address} with a link to confirm your subscription. "
        "Nothing else will be sent until you confirm."
    ),
    "sent_expiry": "The link works for 48 hours. No message? Look in your spam folder.",
    "confirm_title": "Confirm your subscription",
    "confirm_body": (
        "One last step: press the button to start getting {organisation}'s press releases "
        "at {address}."
    ),
    "confirm_button": "Confirm my subscription",
    "confirmed_title": "You are subscribed",
    "confirmed_body": "{address} will now get {organisation}'s press releases.",
    "confirmed_again_title": "Already confirmed",
    "confirmed_again_body": "{address} is already subscribed: nothing more to do.",
    "manage": "You can change your language, topics or frequency at any time.",
    "manage_link": "Manage your preferences",
    "nothing_title": "Nothing to confirm",
    "nothing_body": (
        "This sign-up has already been used or is no longer waiting. To subscribe, "
        "please fill in the form again."
    ),
    "sign_up_again": "Sign up again",
    "unsubscribe_title": "Unsubscribe",
    "unsubscribe_body": ("Press the button to stop every email from {organisation} to {address}."),
    "unsubscribe_button": "Unsubscribe",
    "unsubscribe_instead": "Or change what you receive instead",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_body": "{address} will get no more emails from us.",
    "changed_mind": "Changed your mind? You can sign up again at any time.",
    "preferences_title": "Your preferences",
    "preferences_intro": "What {address} receives from {organisation}.",
    "save": "Save my preferences",
    "saved": "Your preferences are saved.",
    "unsubscribe_all": "Unsubscribe from every email",
    "not_subscribed_title": "Not subscribed",
    "not_subscribed_body": "{address} is not subscribed to our press releases.",
    "bad_link_title": "This link does not work",
    "bad_link_tampered": (
        "It may have been cut short or changed when it was copied. Please open the link "
        "exactly as it is in the email."
    ),
    "bad_link_expired_title": "This link has expired",
    "bad_link_expired": (
        "Confirmation links work for 48 hours. Please sign up again to get a new one."
    ),
    "bad_link_wrong_title": "This link is for something else",
    "bad_link_wrong": ("Please use the link from the email that matches what you want to do."),
    "forbidden_title": "Please send the form again",
    "forbidden_body": (
        "For your security, this form only works from our own page and for a limited "
        "time. Open the page again, then send the form."
    ),
    "too_many_title": "Too many attempts",
    "too_many_body": "Please wait {minutes} and try again.",
    "not_sent_title": "We could not send the email",
    "not_sent_body": "Our mail server is not answering. Please try again in a few minutes.",
    "refused_title": "This address cannot receive our email",
    "refused_body": "The mail server of {address} refused our message. Please check it.",
    "unavailable_title": "Back soon",
    "unavailable_body": "This service is briefly unavailable. Please try again shortly.",
    "not_found_title": "Page not found",
    "not_found_body": "There is nothing at this address.",
    "bad_request_title": "This request cannot be handled",
    "bad_request_body": "Please go back and try again.",
    "back_to_form": "Back to the sign-up form",
    # the newsroom (publisher.web.newsroom)
    "newsroom": "Newsroom",
    "signin_title": "Sign in to the newsroom",
    "signin_intro": ("For {organisation}'s press office. Your administrator gives you an account."),
    "field_username": "User name",
    "field_password": "Password",
    "signin_button": "Sign in",
    "signin_wrong": "The user name or the password is not right. Please try again.",
    "signin_too_many": "Too many attempts to sign in. Please wait {minutes} and try again.",
    "signin_form_expired": (
        "For your security, this form works only from our own page and for a limited "
        "time. Please sign in again."
    ),
    "signed_out": "You are signed out.",
    "signed_in_as": "Signed in as {name}, {role}.",
    "role_officer": "media officer",
    "role_editor": "editor",
    "role_admin": "administrator",
    "newsroom_soon": ("Writing, previewing, approving and following press releases will be here."),
    "signout_button": "Sign out",
    "keep_language": "Always show the newsroom in English",
    "not_allowed_title": "Not allowed",
    "not_allowed_body": (
        "Your role, {role}, does not allow this. Ask an administrator if you need it."
    ),
    "back_to_newsroom": "Back to the newsroom",
    "users_title": "Users",
    "users_none": "There are no users yet.",
    "column_name": "Name",
    "column_role": "Role",
    "column_state": "State",
    "column_since": "Since",
    "state_active": "active",
    "state_disabled": "disabled",
}


def _location(module_file: str) -> str:
    """A module as the catalog's `#:` lines name it ("publisher/web/words.py")."""
    return Path(module_file).resolve().relative_to(_PACKAGE_ROOT).as_posix()


#: the English words by the module that defines them (the catalog's `#:` locations)
SOURCES: dict[str, dict[str, str]] = {
    _location(__file__): _ENGLISH,
    _location(words_compose.__file__): words_compose.ENGLISH,
    _location(words_releases.__file__): words_releases.ENGLISH,
}


def _merge(sources: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """All the English words; a word named in two modules is a mistake caught at import."""
    english: dict[str, str] = {}
    for part in sources.values():
        clash = english.keys() & part.keys()
        if clash:
            raise RuntimeError(f"words named twice: {sorted(clash)}")
        english.update(part)
    return english


def catalog_path(language: str) -> Path:
    """Where the catalog of the web pages' words in `language` is."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> Catalog:
    """The catalog at `path` (its language from its header), or an empty one if there is none."""
    if not path.is_file():
        return Catalog(domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, domain=DOMAIN)


def translated(english: Mapping[str, str], catalog: Catalog) -> dict[str, str]:
    """Each word as `catalog` translates it, looked up by (English, key). A word whose
    translation is missing, empty or fuzzy, or was made for other English, stays English: the
    page still works, and tests/web/test_words_catalog.py fails until someone translates it."""
    words = {}
    for key, text in english.items():
        message = catalog.get(text, context=key)
        string = message.string if message is not None and not message.fuzzy else None
        words[key] = string if isinstance(string, str) and string else text
    return words


def update_catalog(path: Path, sources: Mapping[str, Mapping[str, str]] = SOURCES) -> list[str]:
    """Rewrite the catalog at `path` for the English words of `sources`, in their order:
    translations kept; a new word added untranslated; a word whose English changed marked fuzzy,
    its old translation kept as a start and the English it was made for in a `#.` comment; a
    word no longer defined dropped. Returns the keys that need a translator.

    Not Babel's previous_id (`#|`): Babel 2.19 does not read it back (python-babel/babel#206)
    and wraps a long one into lines GNU msgfmt rejects."""
    catalog = read_catalog(path)
    old = {message.context: message for message in catalog if message.id}
    for message in old.values():
        catalog.delete(message.id, context=message.context)
    catalog.obsolete.clear()
    to_translate = []
    for location, part in sources.items():
        for key, text in part.items():
            message = old.get(key, Message(text, ""))
            flags = set(message.flags)
            notes = message.auto_comments if message.fuzzy else []
            if message.id != text:  # translated from other English
                flags.add("fuzzy")
                notes = notes or [f"{TRANSLATED_FROM}{message.id}"]
            catalog.add(
                text,
                message.string,
                # no line number, so a moved word does not churn the file (Babel's types want one)
                locations=[(location, None)],  # type: ignore[list-item]
                flags=flags,
                auto_comments=notes,
                user_comments=message.user_comments,
                context=key,
            )
            if "fuzzy" in flags or not message.string:
                to_translate.append(key)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=CATALOG_WIDTH)
    return to_translate


WORDS: dict[str, dict[str, str]] = {LANGUAGES[0]: _merge(SOURCES)}
for _language in LANGUAGES[1:]:
    WORDS[_language] = translated(WORDS[LANGUAGES[0]], read_catalog(catalog_path(_language)))

ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def words(language: str) -> dict[str, str]:
    """The words of a page in `language` (English when there are none)."""
    return WORDS.get(language, WORDS["en"])


def direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def minutes(count: int, language: str) -> str:
    """ "3 minutes" / "٣ دقائق", with Arabic's number agreement."""
    if language == "ar":
        if count <= 1:
            return "دقيقة واحدة"
        if count == 2:
            return "دقيقتين"
        digits = str(count).translate(ARABIC_DIGITS)
        return f"{digits} دقائق" if count <= 10 else f"{digits} دقيقة"
    return "1 minute" if count <= 1 else f"{count} minutes"


def supported(tag: str | None) -> str | None:
    """The page language for a language tag ("ar-SY" -> "ar"), or None if we have none."""
    primary = (tag or "").split("-")[0].split("_")[0].strip().lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best of our languages by an Accept-Language header (q-values honoured)."""
    best: tuple[float, str] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = supported(tag)
        if language and quality > 0:
            rank = (quality - position * 1e-6, language)  # ties: the first listed wins
            if best is None or rank > best:
                best = rank
    return best[1] if best else None


def pick(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first candidate we have words for, else the browser's choice, else English."""
    for candidate in candidates:
        language = supported(candidate)
        if language:
            return language
    return from_accept_language(accept_language) or LANGUAGES[0]


# python -m publisher.web.words --update-catalog (runpy warns that `publisher.web` imported this
# module before running it as __main__: harmless, both copies read the same files)
if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--update-catalog"]:
        sys.exit("usage: python -m publisher.web.words --update-catalog")
    for _language in LANGUAGES[1:]:
        _path = catalog_path(_language)
        _keys = update_catalog(_path)
        print(f"{_path}: {len(_keys)} to translate", *_keys)
