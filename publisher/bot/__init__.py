"""The Telegram bot: people subscribe, choose what they get and read the latest releases.

A python-telegram-bot `Application` on the delivery sender's HTTP layer (`AiohttpRequest`),
sharing the workers' rate limit for the token. Its faces are thin: each handler parses an
update, calls one function of `publisher.services.subscribers` and answers.

- `app`: `build_application`, `run_polling` and the `running`/`polling` contexts.
- `handlers`: one handler per kind of update, and the claim that stops duplicates.
- `webhook`: the aiohttp endpoint `POST /telegram/webhook` and `run_webhook`.
- `limits`: the shared rate limiter and the per-chat ordered update processor.
- `choices`: deep-link payloads, button data and toggles (pure).
- `views`: the answers' texts and the settings keyboard (pure).
- `i18n`: the Babel catalogs (`publisher/locale/*/LC_MESSAGES/bot.po`), right to left.
"""
