"""`AiohttpRequest`: python-telegram-bot's HTTP layer on aiohttp, for fan-out to many chats.

PTB's default layer (httpx) spends most of a core in httpcore once hundreds of requests are in
flight; aiohttp's connection pool is cheaper per request. This class overrides only
`do_request`, PTB's seam for a transport: PTB still builds the parameters, reads the status
and the JSON answer and raises its own exceptions. Bodies are what the httpx layer sends:
form-urlencoded parameters, or multipart/form-data when a file is uploaded.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import quote_plus

import aiohttp
import yarl
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM_URLENCODED = "application/x-www-form-urlencoded"


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one aiohttp session with a bounded connection pool.

    aiohttp has no separate write timeout: a request as a whole is bounded by the sum of the
    pool, connect, write and read timeouts (the media write timeout when it uploads a file).
    """

    __slots__ = (
        "_connection_limit",
        "_connect_timeout_s",
        "_keepalive_s",
        "_media_write_timeout_s",
        "_pool_timeout_s",
        "_read_timeout_s",
        "_session",
        "_write_timeout_s",
    )

    def __init__(
        self,
        connection_limit: int = 100,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        keepalive_s: float = 30.0,
    ) -> None:
        self._connection_limit = connection_limit
        self._read_timeout_s = read_timeout
        self._write_timeout_s = write_timeout
        self._connect_timeout_s = connect_timeout
        self._pool_timeout_s = pool_timeout
        self._media_write_timeout_s = media_write_timeout
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read_timeout_s

    async def initialize(self) -> None:
        """Open the session (inside the running loop); a second call does nothing."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self._connection_limit, keepalive_timeout=self._keepalive_s, ttl_dns_cache=300
        )
        # No cookies: the Bot API sets none, and a jar costs work on every request and answer.
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def shutdown(self) -> None:
        """Close the session and its connections; a second call does nothing."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the HTTP status and the body (PTB interprets both)."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        body: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if uploads:
                body = _multipart(request_data)
            else:
                body = _url_encoded(request_data.json_parameters)
                headers = {"Content-Type": FORM_URLENCODED}
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, uploads=uploads
        )
        try:
            async with session.request(
                method, _parsed(url), data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is a TimeoutError too
            raise TimedOut(f"Timed out: aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """Parse Telegram's JSON answer; a proxy's HTML error page is expected, not logged."""
        try:
            result = json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            # PTB's own version logs a traceback for every 502 page from Telegram's front proxy.
            raise TelegramError("Invalid server response") from exc
        if not isinstance(result, dict):
            raise TelegramError("Invalid server response")
        return result

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        *,
        uploads: bool,
    ) -> aiohttp.ClientTimeout:
        read_s = _pick(read, self._read_timeout_s)
        connect_s = _pick(connect, self._connect_timeout_s)
        pool_s = _pick(pool, self._pool_timeout_s)
        write_s = _pick(write, self._media_write_timeout_s if uploads else self._write_timeout_s)
        return _client_timeout(pool_s, connect_s, write_s, read_s)


@functools.lru_cache(maxsize=16)
def _client_timeout(
    pool_s: float | None, connect_s: float | None, write_s: float | None, read_s: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's four (made once per combination: PTB passes a few)."""
    parts = (pool_s, connect_s, write_s, read_s)
    total_s = None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)
    # aiohttp's `connect` covers waiting for a pooled connection as well as opening one.
    wait_s = None if pool_s is None or connect_s is None else pool_s + connect_s
    return aiohttp.ClientTimeout(
        total=total_s, connect=wait_s, sock_connect=connect_s, sock_read=read_s
    )


def _pick(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout as passed by PTB: not passed (a DefaultValue) means this layer's default."""
    return default if isinstance(value, DefaultValue) else value


@functools.lru_cache(maxsize=64)
def _parsed(url: str) -> yarl.URL:
    """The few method URLs a bot calls, parsed once (aiohttp would parse the string each time)."""
    return yarl.URL(url)


def _url_encoded(parameters: dict[str, str]) -> bytes:
    """`urlencode(parameters)`, with long values quoted once: a broadcast sends the same text to
    every chat, and quoting it character by character cost a fifth of a send's CPU."""
    return "&".join(
        f"{quote_plus(k)}={_quoted_text(v) if len(v) > 64 else quote_plus(v)}"
        for k, v in parameters.items()
    ).encode("ascii")


@functools.lru_cache(maxsize=64)
def _quoted_text(value: str) -> str:
    return quote_plus(value)


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    """Parameters as form fields, then each file as a part, the way PTB's httpx layer sends them."""
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
