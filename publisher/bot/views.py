"""The bot's answers, rendered without I/O: finished texts (right to left in Arabic) and
the settings keyboard. Every word comes from the catalog through `_()`."""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup

from publisher.bot.choices import category_data, language_data
from publisher.bot.i18n import ENDONYMS, N_, Texts
from publisher.services.subscribers import Category, Published, Subscriber

CHECKED, UNCHECKED = "✅", "⬜"

#: the commands, in the order /help and the menu list them
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Subscribe to the press releases")),
    ("settings", N_("Choose your language and categories")),
    ("latest", N_("The latest press releases")),
    ("stop", N_("Unsubscribe")),
    ("help", N_("What this bot can do")),
)


def bot_commands(_: Texts) -> list[BotCommand]:
    """The command menu in one language, for setMyCommands."""
    return [BotCommand(command, _(description)) for command, description in COMMANDS]


def language_name(_: Texts, language: str) -> str:
    if language == "ar":
        return _("Arabic")
    if language == "both":
        return _("English and Arabic")
    return _("English")


def choice_lines(
    _: Texts, subscriber: Subscriber, categories: Sequence[Category]
) -> tuple[str, str]:
    """The subscriber's language and categories, one line each."""
    language = _("Language: {language}").format(language=language_name(_, subscriber.language))
    if not subscriber.categories:
        chosen = _("all")
    else:
        names = {c.slug: c.name(_.language) for c in categories}
        chosen = ", ".join(names.get(slug, slug) for slug in subscriber.categories)
    return language, _("Categories: {categories}").format(categories=chosen)


def started(
    _: Texts,
    subscriber: Subscriber,
    categories: Sequence[Category],
    *,
    was: str,
    organisation: str,
    understood: bool,
) -> str:
    """The answer to /start; `was` is the chat's state before ("new", "subscribed", ...)."""
    if was == "subscribed":
        first = _("You are already subscribed to {organisation}'s press releases.")
    elif was == "new":
        first = _("Welcome! {organisation}'s press releases will come to this chat.")
    else:
        first = _("Welcome back! {organisation}'s press releases will come to this chat again.")
    lines = [first.format(organisation=organisation)]
    if not understood:
        lines.append(_("I did not understand the link you followed, so you get the defaults."))
    lines.extend(choice_lines(_, subscriber, categories))
    lines.append(_("Change them with /settings; stop with /stop."))
    return _.lines(*lines)


def stopped(_: Texts, was_subscribed: bool) -> str:
    if was_subscribed:
        return _.lines(
            _("You are unsubscribed: no more press releases will come to this chat."),
            _("Send /start to subscribe again."),
        )
    return _.lines(_("You are not subscribed."), _("Send /start to subscribe."))


def not_subscribed(_: Texts) -> str:
    return _.lines(_("You are not subscribed yet. Send /start first."))


def try_again(_: Texts) -> str:
    return _.lines(_("Sorry, something went wrong on our side. Please try again in a few minutes."))


def not_admin(_: Texts) -> str:
    return _.lines(_("Sorry, only an administrator of this group can do that."))


def settings_text(_: Texts, subscriber: Subscriber, categories: Sequence[Category]) -> str:
    """The text of the settings message (the keyboard goes with it)."""
    lines = [_("Your settings"), choice_lines(_, subscriber, categories)[0]]
    if categories:
        lines.append(choice_lines(_, subscriber, categories)[1])
        lines.append(_("Tap a language, or a category to switch it on or off."))
    else:
        lines.append(_("There are no categories yet: you get every press release."))
        lines.append(_("Tap a language to choose it."))
    return _.lines(*lines)


def settings_keyboard(
    _: Texts, subscriber: Subscriber, categories: Sequence[Category]
) -> InlineKeyboardMarkup:
    """Language buttons in one row, then one toggle button per category (all on: none chosen)."""
    names = {"en": ENDONYMS["en"], "ar": ENDONYMS["ar"], "both": _("Both")}
    languages = [
        InlineKeyboardButton(
            f"{CHECKED} {name}" if code == subscriber.language else name,
            callback_data=language_data(code),
        )
        for code, name in names.items()
    ]
    rows = [languages]
    for category in categories:
        mark = CHECKED if subscriber.reads(category.slug) else UNCHECKED
        rows.append(
            [
                InlineKeyboardButton(
                    f"{mark} {category.name(_.language)}",
                    callback_data=category_data(category.slug),
                )
            ]
        )
    return InlineKeyboardMarkup(rows)


def saved(_: Texts) -> str:
    return _.directed(_("Saved."))


def keep_one(_: Texts) -> str:
    return _.directed(_("Keep at least one category; to get nothing, send /stop."))


def latest(_: Texts, releases: Sequence[Published]) -> str:
    """The last releases, each title a link (HTML parse mode)."""
    if not releases:
        return _.lines(html.escape(_("No press releases have been published yet."), quote=False))
    lines = [html.escape(_("The latest press releases:"), quote=False)]
    for release in releases:
        link = f'<a href="{html.escape(release.url)}">{html.escape(release.title, quote=False)}</a>'
        lines.append(f"• {link}")
    return _.lines(*lines)


def help_text(_: Texts, organisation: str) -> str:
    lines = [_("This bot sends {organisation}'s press releases.").format(organisation=organisation)]
    lines.extend(
        _("/{command} – {description}").format(command=command, description=_(description))
        for command, description in COMMANDS
    )
    lines.append(_("In a group, only an administrator can subscribe it or change its settings."))
    return _.lines(*lines)
