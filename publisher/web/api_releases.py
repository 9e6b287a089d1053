"""The REST API's releases: create (the JSON form or a release file), list, get, update a draft,
submit, approve, publish (now or `at`), cancel, resume, retry, status and deliveries.

Each route takes who acts and their role from `require_role`, calls the services of
`publisher.services` (drafts, approval, status) and answers with a model of `api_models`;
what the services refuse becomes problem details in `publisher.web.app`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from publisher import services
from publisher.errors import ReleaseError
from publisher.services import approval, drafts
from publisher.services.accounts import Principal
from publisher.web.api_models import (
    RELEASE_ID,
    STATE,
    ApproveIn,
    Cancelled,
    CreatedRelease,
    DeliveryPage,
    DraftOut,
    Event,
    FieldProblem,
    Published,
    PublishIn,
    ReleaseIn,
    ReleasePage,
    ReleaseStatus,
    Resumed,
    Retried,
    responses,
)
from publisher.web.deps import BackendDep, require_role
from publisher.web.idempotency import IdempotentRoute

router = APIRouter(route_class=IdempotentRoute, tags=["releases"])

ReleaseId = Annotated[str, Path(pattern=RELEASE_ID, description="the release's id")]
Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
MAX_UPLOAD_BYTES = 4_000_000

#: POST /releases takes either body; FastAPI cannot declare both, so they are described here.
CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ReleaseIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a release file: Markdown with front matter, or JSON",
                        }
                    },
                }
            },
        },
    }
}


def _draft(draft: drafts.Draft) -> DraftOut:
    return DraftOut(
        id=draft.id,
        state=draft.state,
        fields=draft.fields,
        author=draft.author,
        approved_by=draft.approved_by,
        content_hash=draft.content_hash,
        approved_hash=draft.approved_hash,
        updated=draft.updated,
        history=[Event.model_validate(event) for event in draft.events],
    )


def _problems(found: list[drafts.Problem]) -> list[FieldProblem]:
    return [FieldProblem(field=p.field, problem=p.problem, fix=p.fix) for p in found]


async def _release_fields(request: Request) -> tuple[dict[str, Any] | None, UploadFile | None]:
    """The JSON form of a release, or the uploaded release file (field `file`)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_UPLOAD_BYTES)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError(
                [{"loc": ("body", "file"), "msg": "a release file is required", "type": "missing"}]
            )
        return None, upload
    try:
        release = ReleaseIn.model_validate_json(await request.body() or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    return release.fields(), None


@router.post(
    "/releases",
    status_code=201,
    openapi_extra=CREATE_BODY,
    responses=responses(409, 422),
    summary="Create a draft from a release's JSON form or a release file",
)
async def create_release(
    request: Request, backend: BackendDep, who: Annotated[Principal, require_role("draft")]
) -> CreatedRelease:
    """A new draft, what each channel would get from it, and what still stops it."""
    fields, upload = await _release_fields(request)
    if upload is not None:
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            raise ReleaseError("file", "file", "is larger than 4 MB", "upload a smaller file")
        draft = drafts.import_file(backend, raw, upload.filename or "release.md", who)
    else:
        draft = drafts.create(backend, fields or {}, who)
    shown = drafts.preview(draft.fields, backend.settings)
    return CreatedRelease(
        id=draft.id,
        state=draft.state,
        channels=(shown.rendered or {}).get("channels", {}),
        problems=_problems(shown.problems),
        warnings=_problems(shown.warnings),
    )


@router.get("/releases", responses=responses(), summary="List releases, the newest first")
def list_releases(
    backend: BackendDep,
    who: Annotated[Principal, require_role("draft")],
    state: STATE | None = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    language: Annotated[str | None, Query(max_length=35)] = None,
    author: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Day = None,
    date_to: Day = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReleasePage:
    page = approval.list_releases(
        backend, state, category, language, author, date_from, date_to, offset, limit
    )
    return ReleasePage.model_validate(page, from_attributes=True)


@router.get("/releases/{release_id}", responses=responses(404), summary="A release")
def get_release(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("draft")]
) -> DraftOut:
    return _draft(drafts.get(backend, release_id))


@router.put("/releases/{release_id}", responses=responses(404, 409, 422), summary="Edit a draft")
def update_release(
    release_id: ReleaseId,
    release: ReleaseIn,
    backend: BackendDep,
    who: Annotated[Principal, require_role("draft")],
) -> DraftOut:
    """Save new fields; a submitted release whose content changes goes back for approval."""
    return _draft(drafts.update(backend, release_id, release.fields(), who))


@router.post(
    "/releases/{release_id}/submit", responses=responses(404, 409, 422), summary="Ask approval"
)
def submit_release(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("submit")]
) -> DraftOut:
    return _draft(approval.submit(backend, release_id, who))


@router.post(
    "/releases/{release_id}/approve",
    responses=responses(404, 409, 422),
    summary="Approve the content (given its hash: only if it is still that content)",
)
def approve_release(
    release_id: ReleaseId,
    backend: BackendDep,
    who: Annotated[Principal, require_role("approve")],
    body: Annotated[ApproveIn | None, Body()] = None,
) -> DraftOut:
    content_hash = body.content_hash if body and body.content_hash else ""
    return _draft(approval.approve(backend, release_id, who, content_hash))


@router.post(
    "/releases/{release_id}/publish",
    status_code=202,
    responses=responses(404, 409, 422),
    summary="Publish an approved release now, or at a time",
)
def publish_release(
    release_id: ReleaseId,
    backend: BackendDep,
    who: Annotated[Principal, require_role("publish")],
    body: Annotated[PublishIn | None, Body()] = None,
) -> Published:
    at = services.parse_time(body.at) if body and body.at else None
    done = approval.publish(backend, release_id, who, at)
    return Published(
        id=done.release_id, action=done.action, at=done.at.isoformat() if done.at else None
    )


@router.post(
    "/releases/{release_id}/cancel",
    responses=responses(404, 409),
    summary="Withdraw a schedule, or stop a broadcast",
)
def cancel_release(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("cancel")]
) -> Cancelled:
    return Cancelled(id=release_id, action=approval.cancel(backend, release_id, who))


@router.post(
    "/releases/{release_id}/resume",
    responses=responses(404, 409),
    summary="Continue channels paused by a channel-wide fault",
)
def resume_release(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("resume")]
) -> Resumed:
    return Resumed(id=release_id, resumed=approval.resume(backend, release_id, who))


@router.post(
    "/releases/{release_id}/retry",
    responses=responses(404, 409),
    summary="Send again to the recipients whose delivery failed",
)
def retry_release(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("retry")]
) -> Retried:
    return Retried(id=release_id, retried=approval.retry_failed(backend, release_id, who))


@router.get(
    "/releases/{release_id}/status",
    responses=responses(404),
    summary="Per channel: sent, failed, pending, skipped, paused, uncertain; and the errors",
)
def release_status(
    release_id: ReleaseId, backend: BackendDep, who: Annotated[Principal, require_role("draft")]
) -> ReleaseStatus:
    return ReleaseStatus.model_validate(services.release_status(backend, release_id))


@router.get(
    "/releases/{release_id}/deliveries",
    responses=responses(404, 422),
    summary="One row per recipient, paged",
)
def release_deliveries(
    release_id: ReleaseId,
    backend: BackendDep,
    who: Annotated[Principal, require_role("draft")],
    channel: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    rows = services.deliveries(backend, release_id, [channel] if channel else None, state)
    return DeliveryPage.model_validate(
        {
            "items": rows[offset : offset + limit],
            "total": len(rows),
            "offset": offset,
            "limit": limit,
        }
    )
