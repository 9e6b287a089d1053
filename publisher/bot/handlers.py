"""One small handler per kind of update: parse it, call one service, answer.

Every update first passes `claim` (group -1): the one process that claims its `update_id` in
Redis handles it, every other copy (a webhook delivered again, a second bot process) stops
there. In groups only an administrator (or an anonymous one, posting as the group) may
/start, /stop or change /settings; /latest and /help answer anyone.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import ChatMember, ChatMemberUpdated, LinkPreviewOptions, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from publisher.bot import views
from publisher.bot.choices import parse_data, parse_payload, toggled
from publisher.bot.i18n import Texts, answer_language, first_language, texts
from publisher.errors import StoreUnavailable
from publisher.logs import log_event
from publisher.senders.telegram import translate
from publisher.services import Backend
from publisher.services import subscribers as service

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
ADMINS = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR})
GONE = frozenset({ChatMember.LEFT, ChatMember.BANNED})  # "left", "kicked"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class Handlers:
    """The bot's handlers, bound to one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.organisation = backend.settings.organisation_name

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(TypeHandler(Update, self.claim), group=-1)
        for name, callback in (
            ("start", self.start),
            ("stop", self.stop),
            ("settings", self.settings),
            ("latest", self.latest),
            ("help", self.help),
        ):
            application.add_handler(CommandHandler(name, callback))
        application.add_handler(CallbackQueryHandler(self.choose))
        application.add_handler(
            ChatMemberHandler(self.membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.migrated))
        application.add_error_handler(self.failed)

    async def claim(self, update: Update, context: Context) -> None:
        """Let only the first process that sees an update handle it."""
        if not service.claim_update(self.backend, str(context.bot.id), update.update_id):
            raise ApplicationHandlerStop

    # -- commands ------------------------------------------------------------------------------
    async def _managed(
        self, update: Update, context: Context
    ) -> tuple[Message, str, str | None, service.Subscriber | None, Texts] | None:
        """The chat's message, id, user language, record and answer language, once the
        sender may manage the chat (in a group: an administrator); None after refusing."""
        message, chat_id, code = _parts(update)
        before = service.find(self.backend, chat_id)
        _ = _texts(before, code)
        if not await _may_manage(update, context):
            await _answer(message, views.not_admin(_))
            return None
        return message, chat_id, code, before, _

    async def start(self, update: Update, context: Context) -> None:
        managed = await self._managed(update, context)
        if managed is None:
            return
        message, chat_id, code, before, _ = managed
        link = parse_payload(
            " ".join(context.args or ()) or None,
            lambda: {c.slug for c in service.categories(self.backend)},
        )
        language = link.language or ("" if before else first_language(code))
        subscriber = service.start(
            self.backend,
            chat_id,
            message.chat.type,
            _actor(update),
            language=language,
            categories=[link.category] if link.category else None,
        )
        chosen = service.categories(self.backend) if subscriber.categories else []
        text = views.started(
            _texts(subscriber, code),
            subscriber,
            chosen,
            was="new" if before is None else before.state,
            organisation=self.organisation,
            understood=link.understood,
        )
        await _answer(message, text)

    async def stop(self, update: Update, context: Context) -> None:
        managed = await self._managed(update, context)
        if managed is None:
            return
        message, chat_id, _code, _before, _ = managed
        await _answer(
            message, views.stopped(_, service.stop(self.backend, chat_id, _actor(update)))
        )

    async def settings(self, update: Update, context: Context) -> None:
        managed = await self._managed(update, context)
        if managed is None:
            return
        message, _chat_id, _code, subscriber, _ = managed
        if subscriber is None or not subscriber.subscribed:
            await _answer(message, views.not_subscribed(_))
            return
        categories = service.categories(self.backend)
        await message.reply_text(
            views.settings_text(_, subscriber, categories),
            reply_markup=views.settings_keyboard(_, subscriber, categories),
        )

    async def latest(self, update: Update, context: Context) -> None:
        message, chat_id, code = _parts(update)
        subscriber = service.find(self.backend, chat_id)
        _ = _texts(subscriber, code)
        language = subscriber.language if subscriber else first_language(code)
        releases = service.latest(self.backend, language, limit=5)
        await message.reply_text(
            views.latest(_, releases),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )

    async def help(self, update: Update, context: Context) -> None:
        message, chat_id, code = _parts(update)
        _ = _texts(service.find(self.backend, chat_id), code)
        await _answer(message, views.help_text(_, self.organisation))

    # -- the settings keyboard -----------------------------------------------------------------
    async def choose(self, update: Update, context: Context) -> None:
        """A settings button: change the choice, edit the same message, answer the query."""
        query = update.callback_query
        assert query is not None
        message = query.message
        code = query.from_user.language_code
        if message is None:  # a button of an inline message: not one of ours
            await query.answer()
            return
        chat_id = str(message.chat.id)
        subscriber = service.find(self.backend, chat_id)
        _ = _texts(subscriber, code)
        if not await _may_manage(update, context):
            await query.answer(views.not_admin(_), show_alert=True)
            return
        if subscriber is None or not subscriber.subscribed:
            await query.answer(views.not_subscribed(_), show_alert=True)
            return
        categories = service.categories(self.backend)
        choice = parse_data(query.data, {c.slug for c in categories})
        actor = f"telegram:{query.from_user.id}"
        changed = None
        if choice is not None and choice[0] == "language" and choice[1] != subscriber.language:
            changed = service.choose(self.backend, chat_id, actor, language=choice[1])
        elif choice is not None and choice[0] == "category":
            every = [c.slug for c in categories]
            chosen = toggled(subscriber.categories, choice[1], every)
            if chosen is None:
                await query.answer(views.keep_one(_), show_alert=True)
                return
            changed = service.choose(self.backend, chat_id, actor, categories=chosen)
        if changed is None:
            await query.answer()
            return
        _ = _texts(changed, code)
        try:
            await context.bot.edit_message_text(
                views.settings_text(_, changed, categories),
                chat_id=message.chat.id,
                message_id=message.message_id,
                reply_markup=views.settings_keyboard(_, changed, categories),
            )
        except BadRequest as exc:  # pressed twice quickly: the message already says so
            if "not modified" not in exc.message.lower():
                raise
        await query.answer(views.saved(_))

    # -- membership ----------------------------------------------------------------------------
    async def membership(self, update: Update, context: Context) -> None:
        """The user blocked the bot, or the bot was removed from a group: stop sending there.
        Unblocking sends nothing back: the person subscribes again with /start."""
        change = update.my_chat_member
        assert change is not None
        if not _bot_gone(change):
            return
        chat = change.chat
        cause = "blocked the bot" if chat.type == ChatType.PRIVATE else "bot removed from the chat"
        service.block(self.backend, str(chat.id), f"telegram:{change.from_user.id}", cause)

    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup: its record and choices move to the new chat id."""
        message = update.effective_message
        assert message is not None
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        service.move(self.backend, str(old), str(new), "telegram")

    async def _apologise(self, update: Update) -> None:
        """Tell whoever wrote that we could not do it now (Redis is away: their choice of
        language cannot be read, so Telegram's language_code picks the answer's)."""
        message = update.effective_message
        if message is None:
            return
        user = update.effective_user
        answer = views.try_again(texts(first_language(user.language_code if user else None)))
        try:
            await message.reply_text(answer)
        except TelegramError as exc:
            log_event(log, logging.WARNING, "apology not sent", error=str(translate(exc)))

    async def failed(self, update: object, context: Context) -> None:
        """Log what went wrong with an update (Telegram's errors in our terms), nothing more."""
        error = context.error
        detail = translate(error) if isinstance(error, TelegramError) else error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, StoreUnavailable) and isinstance(update, Update):
            await self._apologise(update)
        log_event(
            log,
            logging.ERROR,
            "update failed",
            channel="telegram",
            update_id=update_id,
            error=type(detail).__name__,
            detail=str(detail),
        )


def _parts(update: Update) -> tuple[Message, str, str | None]:
    """The message, its chat id as stored, and the sender's language_code."""
    message = update.effective_message
    assert message is not None  # command handlers only see messages
    user = update.effective_user
    return message, str(message.chat.id), user.language_code if user else None


def _texts(subscriber: service.Subscriber | None, language_code: str | None) -> Texts:
    return texts(answer_language(subscriber.language if subscriber else None, language_code))


#: Who an event's `who` names when the chat's own person did it: their id is the event's
#: address already, and a subscriber's events are most of the recipient stream's bytes.
SELF = "self"


def _actor(update: Update) -> str:
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return f"telegram:chat:{message.sender_chat.id}"  # an anonymous administrator
    user, chat = update.effective_user, update.effective_chat
    if user is not None and chat is not None and user.id == chat.id:
        return SELF  # a person in their own private chat: the event's address says who
    return f"telegram:{user.id}" if user else "telegram"


async def _may_manage(update: Update, context: Context) -> bool:
    """Whether the sender may change this chat's subscription: anyone in a private chat, an
    administrator in a group (an anonymous one posts as the group itself)."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUPS:
        return True
    message = update.message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    user = update.effective_user
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ADMINS


def _bot_gone(change: ChatMemberUpdated) -> bool:
    status = change.new_chat_member.status
    if change.chat.type == ChatType.PRIVATE:
        return status == ChatMember.BANNED  # "kicked": the user blocked the bot
    return status in GONE


async def _answer(message: Message, text: str) -> None:
    await message.reply_text(text)
