"""The REST API's recipients (administrators: the "recipients" action): journalists and
Telegram subscribers, listed, added and removed through `publisher.services.recipients`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.exceptions import HTTPException

from publisher.errors import StateConflict
from publisher.services import recipients
from publisher.services.accounts import Principal
from publisher.services.drafts import actor
from publisher.web.api_models import (
    CHAT_ID,
    EMAIL_IN_PATH,
    Journalist,
    JournalistAdded,
    JournalistIn,
    Removed,
    Subscriber,
    SubscriberIn,
    responses,
)
from publisher.web.deps import BackendDep, require_role
from publisher.web.idempotency import IdempotentRoute

router = APIRouter(route_class=IdempotentRoute, tags=["recipients"])

Admin = Annotated[Principal, require_role("recipients")]
Email = Annotated[str, Path(pattern=EMAIL_IN_PATH, description="the journalist's address")]
ChatId = Annotated[str, Path(pattern=CHAT_ID, description="a chat id, or @channel")]


@router.get("/journalists", responses=responses(), summary="Every journalist, suppressed too")
def list_journalists(backend: BackendDep, who: Admin) -> list[Journalist]:
    return [
        Journalist.model_validate(r)
        for r in recipients.list_recipients(backend, recipients.JOURNALISTS)
    ]


@router.post("/journalists", status_code=201, responses=responses(409), summary="Add a journalist")
def add_journalist(body: JournalistIn, backend: BackendDep, who: Admin) -> JournalistAdded:
    """Add or update one journalist; a suppressed address (unsubscribed, bounced) is not added
    back by staff: 409."""
    added = recipients.add_journalist(
        backend,
        body.email,
        actor(who),
        name=body.name,
        language=body.language,
        outlet=body.outlet,
        beats=body.beats,
        cadence=body.cadence,
    )
    if not added:
        raise StateConflict(
            body.email, "suppressed", "is suppressed; only the person's own sign-up adds it back"
        )
    return JournalistAdded(email=body.email, added=True)


def _remove_journalist(backend: BackendDep, email: str, who: Principal) -> Removed:
    if not recipients.remove_journalist(backend, email, actor(who)):
        raise _no_such(email)
    return Removed(address=email, removed=True)


@router.delete("/journalists/{email}", responses=responses(404), summary="Remove a journalist")
def remove_journalist(email: Email, backend: BackendDep, who: Admin) -> Removed:
    return _remove_journalist(backend, email, who)


@router.post(
    "/journalists/{email}/remove",
    responses=responses(404, 409),
    summary="Remove a journalist (for clients without DELETE)",
)
def remove_journalist_by_post(email: Email, backend: BackendDep, who: Admin) -> Removed:
    return _remove_journalist(backend, email, who)


@router.get("/subscribers", responses=responses(), summary="Every Telegram subscriber")
def list_subscribers(backend: BackendDep, who: Admin) -> list[Subscriber]:
    return [
        Subscriber.model_validate(r)
        for r in recipients.list_recipients(backend, recipients.TELEGRAM)
    ]


@router.post(
    "/subscribers", status_code=201, responses=responses(409), summary="Subscribe a Telegram chat"
)
def add_subscriber(body: SubscriberIn, backend: BackendDep, who: Admin) -> Subscriber:
    choices: dict[str, object] = {"language": body.language}
    if body.categories:
        choices["categories"] = sorted(set(body.categories))
    categories = sorted(set(body.categories or [])) or None
    if not recipients.add_subscriber(
        backend, recipients.TELEGRAM, body.chat_id, actor(who), body.language, categories
    ):
        raise HTTPException(
            409, f"chat {body.chat_id} is suppressed: only its own /start brings it back"
        )
    return Subscriber(chat_id=body.chat_id, state="subscribed", **choices)


@router.delete(
    "/subscribers/{chat_id}", responses=responses(404), summary="Unsubscribe a Telegram chat"
)
def remove_subscriber(chat_id: ChatId, backend: BackendDep, who: Admin) -> Removed:
    recipients.unsubscribe(backend, recipients.TELEGRAM, chat_id, actor(who))
    return Removed(address=chat_id, removed=True)


def _no_such(address: str) -> HTTPException:
    return HTTPException(404, f"no journalist {address[:254]!r}: see GET /api/v1/journalists")
