"""The REST API's request and response bodies, as pydantic models, so that the OpenAPI document
(`/api/v1/openapi.json`) carries every schema and FastAPI checks every request against it.

A release's JSON form is DESIGN.md's canonical release; a draft keeps its fields as typed, so
most of them are optional here and the services name what is missing or wrong.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A release id as the services make them (ASCII, a-z, 0-9 and '-').
RELEASE_ID = r"^[a-z0-9][a-z0-9-]{0,119}$"
#: A Telegram chat: its numeric id, or a public @channel.
CHAT_ID = r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$"
#: An email address in a path (checked for real by the services).
EMAIL_IN_PATH = r"^[^/\s@]{1,64}@[^/\s@]{1,189}$"
STATE = Literal[
    "draft", "awaiting-approval", "approved", "scheduled", "sending", "published", "cancelled"
]


class Strict(BaseModel):
    """A request body: a field nobody knows is refused by name, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A response body that may carry more keys than it names (DESIGN: "more keys are fine")."""

    model_config = ConfigDict(extra="allow")


#: What every API route may answer besides its success: no or a bad token, a role that may
#: not, fields that are not as expected, the store down.
ERRORS = (401, 403, 422, 503)
DESCRIPTIONS = {
    401: "no bearer token, or a wrong or revoked one",
    403: "the token's role does not allow this",
    404: "no such release or recipient",
    409: "the state does not allow it, or the same Idempotency-Key is still running",
    422: "fields not as expected (each named under `errors`), or an Idempotency-Key reused",
    503: "the store does not answer; try again",
}


def responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, as problem details, for its OpenAPI operation."""
    return {
        status: {"model": Problem, "description": DESCRIPTIONS[status]}
        for status in sorted({*ERRORS, *extra})
    }


# --- problems ---------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    """One thing to fix, named by its field."""

    field: str
    problem: str
    fix: str = ""


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`); `errors` names each field."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


# --- a release --------------------------------------------------------------------------------


class ImageIn(Strict):
    """An image of a release: an uploaded file's path or a URL, its alt text and caption."""

    src: str = Field(max_length=2000)
    alt: str = Field(default="", max_length=2000)
    caption: str = Field(default="", max_length=2000)


class LinkIn(Strict):
    """A link a release carries."""

    title: str = Field(max_length=500)
    url: str = Field(max_length=2000)


class XOverride(Strict):
    thread: list[str] = Field(max_length=25)


class TelegramOverride(Strict):
    text: str = Field(max_length=100_000)


class EmailOverride(Strict):
    subject: str = Field(max_length=1000)


class OverridesIn(Strict):
    """Per channel, what to send instead of what the release makes."""

    x: XOverride | None = None
    telegram: TelegramOverride | None = None
    email: EmailOverride | None = None


class ReleaseIn(Strict):
    """A release's JSON form (DESIGN.md, "The canonical release"), kept as typed as a draft;
    `title`, `date` and `body` are needed before it can be submitted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Envoy meets delegation",
                    "date": "2024-05-01T09:00:00+03:00",
                    "summary": "A short lede.",
                    "body": "First paragraph.\n\nSecond paragraph.",
                    "category": "Press Releases",
                    "language": "en",
                    "channels": ["telegram", "x", "email", "website"],
                }
            ]
        },
    )

    id: str | None = Field(default=None, pattern=RELEASE_ID)
    title: str | None = Field(default=None, max_length=500)
    date: str | None = Field(
        default=None, max_length=40, description="ISO 8601; no offset: PUBLISHER_TIMEZONE"
    )
    body: str | None = Field(default=None, max_length=1_000_000, description="Markdown")
    summary: str | None = Field(default=None, max_length=5000, description="the lede")
    source: str | None = Field(default=None, max_length=500)
    category: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=50)
    language: str | None = Field(default=None, max_length=35, description="BCP 47")
    images: list[ImageIn] | None = Field(default=None, max_length=20)
    links: list[LinkIn] | None = Field(default=None, max_length=50)
    publish_at: str | None = Field(default=None, max_length=40, description="embargo, ISO 8601")
    channels: list[str] | None = Field(default=None, max_length=10)
    translation_of: str | None = Field(default=None, max_length=120)
    overrides: OverridesIn | None = None

    def fields(self) -> dict[str, Any]:
        """The fields as the services take them (what was not given is left out)."""
        return self.model_dump(exclude_none=True)


class Event(Open):
    """One change of a release: its type, who did it (`actor`) and when (`at`, epoch s)."""

    type: str = ""
    actor: str = ""
    at: str = ""


class CreatedRelease(BaseModel):
    """A new draft: its id and state, what each channel would get, and what stops it."""

    id: str
    state: str
    channels: dict[str, Any] = Field(description="per channel, the `render --json` payloads")
    problems: list[FieldProblem]
    warnings: list[FieldProblem]


class DraftOut(BaseModel):
    """A release as the newsroom keeps it."""

    id: str
    state: str
    fields: dict[str, Any]
    author: str
    approved_by: str
    content_hash: str
    approved_hash: str
    updated: float
    history: list[Event]


class ReleaseSummary(BaseModel):
    """A release in the list."""

    id: str
    title: str
    state: str
    category: str
    language: str
    author: str
    date: str
    updated: float


class ReleasePage(BaseModel):
    """One page of releases, and how many match in all."""

    items: list[ReleaseSummary]
    total: int
    offset: int
    limit: int


class ApproveIn(Strict):
    """The content the approver looked at (its hash); without it, the content as it is now."""

    content_hash: str | None = Field(default=None, max_length=64)


class PublishIn(Strict):
    """When to publish: ISO 8601 (no offset: PUBLISHER_TIMEZONE); without it, now or at the
    release's own embargo."""

    at: str | None = Field(default=None, max_length=40)


class Published(BaseModel):
    """What a publish did: queued, scheduled (at), or nothing new."""

    id: str
    action: str
    at: str | None


class Cancelled(BaseModel):
    id: str
    action: str


class Retried(BaseModel):
    id: str
    retried: int = Field(description="how many failed recipients are sent to again")


class Resumed(BaseModel):
    id: str
    resumed: dict[str, int] = Field(description="per paused channel, how many go out")


# --- deliveries -------------------------------------------------------------------------------


class ChannelCounts(Open):
    """A channel's recipients by state (`status --json`)."""

    sent: int
    failed: int
    pending: int
    skipped: int
    paused: int
    uncertain: int


class StatusError(Open):
    channel: str
    recipient: str
    error: str


class ReleaseStatus(Open):
    """The `status --json` shape: per channel the counts, and the errors."""

    id: str
    channels: dict[str, ChannelCounts]
    errors: list[StatusError]


class Delivery(Open):
    """One recipient's delivery (`deliveries --json`)."""

    channel: str
    recipient: str
    state: str
    attempts: int
    platform_ids: list[str]
    error: str
    possible_duplicate: bool


class DeliveryPage(BaseModel):
    items: list[Delivery]
    total: int
    offset: int
    limit: int


# --- recipients -------------------------------------------------------------------------------


class Journalist(Open):
    """A journalist: address, choices and state (a suppressed one with its cause)."""

    address: str
    state: str


class JournalistIn(Strict):
    """A journalist to add (or update); a suppressed address is not added back."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "reem@example.org", "name": "Reem"}]},
    )

    email: str = Field(max_length=254)
    name: str = Field(default="", max_length=200)
    language: str = Field(default="", max_length=35)
    outlet: str = Field(default="", max_length=200)
    beats: list[str] = Field(default_factory=list, max_length=50)
    cadence: Literal["instant", "daily", "both", ""] = ""


class JournalistAdded(BaseModel):
    email: str
    added: bool


class Subscriber(Open):
    """A Telegram subscriber: chat, choices and state."""

    chat_id: str
    state: str


class SubscriberIn(Strict):
    """A Telegram chat to subscribe, with its language and categories (none: every one)."""

    chat_id: str = Field(pattern=CHAT_ID)
    language: Literal["en", "ar", "both"] = "en"
    categories: list[str] = Field(default_factory=list, max_length=50)


class Removed(BaseModel):
    address: str
    removed: bool
