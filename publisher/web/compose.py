"""The newsroom's pages for composing a release: the form, autosave, image uploads, import and
download, and the live preview.

Every page here works without JavaScript (the Save, Preview and Upload buttons post the form);
with it, htmx (vendored under `static/`, served from /static/) saves in the background and
refreshes the preview as one types. A request from htmx gets a fragment and `Vary: HX-Request`;
any other request, and htmx's history restore, gets the whole page, so the back button never
shows a fragment.

These pages' Content-Security-Policy allows scripts from this site only and, unlike the other
pages, inline styles: the email preview is a `srcdoc` frame, which inherits the page's policy,
and an email's styles are inline (it has no other way). The page itself renders nothing
unescaped but Telegram's HTML, cleaned again to Telegram's tags, so inline styles let nothing
in; serving the frames from a route of their own would have cost a second render per keystroke.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from publisher import channels
from publisher.errors import ReleaseError, ReleaseErrors, RenderError, StateConflict
from publisher.media import MAX_IMAGE_BYTES, SIGNATURE_BYTES, image_kind
from publisher.render import BUILTIN_TEMPLATES
from publisher.services import approval, drafts
from publisher.services.accounts import Principal, User
from publisher.web import compose_form, compose_preview
from publisher.web.deps import BackendDep, PagesDep, page_language, require_role
from publisher.web.newsroom import render
from publisher.web.pages import Pages

router = APIRouter()

NEW = "/newsroom/releases/new"
STATIC = Path(__file__).parent / "static"
HTMX_VERSION = "2.0.11"
MAX_IMPORT_BYTES = 2_000_000
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'"
)
EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}
#: A stand-in for an image the preview cannot show (not uploaded, not published yet).
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90" viewBox="0 0 160 90">'
    b'<rect width="160" height="90" fill="#e4e7ec"/><path d="M50 65l20-25 15 18 10-12 15 19z" '
    b'fill="#9aa3b2"/></svg>'
)
Drafter = Annotated[Principal, require_role("draft")]


# --- answers ---------------------------------------------------------------------------------


def is_fragment(request: Request) -> bool:
    """An htmx request for part of a page; a history restore wants the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and "hx-history-restore-request" not in headers


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Vary": "HX-Request",
        **(extra or {}),
    }


def _with_language(target: str, request: Request) -> str:
    lang = request.query_params.get("lang")
    return f"{target}?{urlencode({'lang': lang})}" if lang else target


def _user(who: Principal) -> User | None:
    return who if isinstance(who, User) else None


async def _form(request: Request) -> tuple[dict[str, list[str]], dict[str, UploadFile]]:
    """The posted fields (each with all its values) and files."""
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadFile] = {}
    for name, value in (await request.form()).multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
        elif value.filename:
            files[name] = value
    return fields, files


def _problems(exc: Exception) -> list[drafts.Problem]:
    if isinstance(exc, ReleaseErrors):
        return [drafts.Problem(e.field, e.problem, e.fix) for e in exc.errors]
    if isinstance(exc, ReleaseError):
        return [drafts.Problem(exc.field, exc.problem, exc.fix)]
    if isinstance(exc, RenderError):
        return [drafts.Problem(f"channels.{exc.channel}", exc.message, "")]
    if isinstance(exc, StateConflict):
        return [drafts.Problem("state", str(exc).splitlines()[0], "")]
    return [drafts.Problem("form", str(exc), "")]


def _compose(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    who: Principal,
    fields: dict[str, Any],
    draft: drafts.Draft | None = None,
    status: int = 200,
    problems: list[drafts.Problem] | None = None,
    notice: str = "",
) -> HTMLResponse:
    """The whole compose page for `fields`, its preview rendered on the server."""
    settings = backend.settings
    names = channels.names()
    values = compose_form.form_values(fields, settings.timezone, names)
    preview = compose_preview.shown(drafts.preview(fields, settings), settings.base_url)
    for problem in problems or []:
        text = f"{problem.problem}: {problem.fix}" if problem.fix else problem.problem
        preview.errors.setdefault(problem.field, []).insert(0, text)
    others = [
        item
        for item in approval.list_releases(backend, limit=200).items
        if draft is None or item["id"] != draft.id
    ]
    action = f"/newsroom/releases/{draft.id}" if draft else "/newsroom/releases"
    return render(
        request,
        pages,
        "compose",
        page_language(request),
        user=_user(who),
        status=status,
        headers=_headers(),
        draft=draft,
        values=values,
        slot_names=compose_preview.slot_names(values, names),
        channel_names=names,
        releases=others,
        timezone=settings.publisher_timezone,
        preview=preview,
        action=_with_language(action, request),
        htmx=f"/static/htmx.min.js?v={HTMX_VERSION}",
        notice=notice,
        oob=False,
    )


def _saved_at(backend: BackendDep, draft: drafts.Draft) -> str:
    return datetime.fromtimestamp(draft.updated, backend.settings.timezone).strftime("%H:%M")


def _save_answer(
    request: Request, backend: BackendDep, pages: Pages, who: Principal, draft: drafts.Draft
) -> Response:
    edit = _with_language(f"/newsroom/releases/{draft.id}/edit", request)
    if is_fragment(request):
        return render(
            request, pages, "compose_saved", page_language(request), user=_user(who),
            headers=_headers({"HX-Replace-Url": edit}),
            draft=draft, saved_at=_saved_at(backend, draft), problems=[],
        )  # fmt: skip
    target = _with_language(f"/newsroom/releases/{draft.id}/edit", request)
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}saved=1", status_code=303)


def _refused(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    who: Principal,
    fields: dict[str, Any],
    exc: Exception,
    draft: drafts.Draft | None = None,
) -> Response:
    status = 409 if isinstance(exc, StateConflict) else 422
    problems = _problems(exc)
    if is_fragment(request):
        return render(
            request,
            pages,
            "compose_saved",
            page_language(request),
            user=_user(who),
            status=200,
            headers=_headers(),
            draft=draft,
            problems=problems,
        )  # fmt: skip (htmx swaps only 2xx answers: the problem is shown, not dropped)
    return _compose(request, backend, pages, who, fields, draft, status, problems)


def _forbidden(request: Request, pages: Pages, who: Principal) -> HTMLResponse:
    from publisher.web.words import words

    t = words(page_language(request))
    return render(
        request, pages, "message", page_language(request), user=_user(who), status=403,
        title=t["forbidden_title"], body=t["forbidden_body"],
    )  # fmt: skip


# --- the form --------------------------------------------------------------------------------


@router.api_route(NEW, methods=["GET", "HEAD"], response_class=HTMLResponse)
def new_release(request: Request, backend: BackendDep, pages: PagesDep, who: Drafter) -> Response:
    """An empty compose form, dated now."""
    now = datetime.now(backend.settings.timezone).replace(second=0, microsecond=0)
    return _compose(request, backend, pages, who, {"date": now.isoformat(), "body": ""})


@router.api_route(
    "/newsroom/releases/{release_id}/edit", methods=["GET", "HEAD"], response_class=HTMLResponse
)
def edit_release(
    request: Request, release_id: str, backend: BackendDep, pages: PagesDep, who: Drafter
) -> Response:
    """The compose form of a draft, its preview beside it."""
    draft = drafts.get(backend, release_id)
    notice = "saved" if request.query_params.get("saved") else ""
    return _compose(request, backend, pages, who, draft.fields, draft, notice=notice)


@router.post("/newsroom/releases", response_class=HTMLResponse)
async def create_release(
    request: Request, backend: BackendDep, pages: PagesDep, who: Drafter
) -> Response:
    """Save a new draft (an autosave that already made it names it in `release_id`)."""
    form, _ = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    fields = compose_form.release_fields(form, backend.settings.timezone)
    release_id = compose_form.one(form, "release_id")
    try:
        if release_id:
            draft = drafts.update(backend, release_id, fields, who)
        else:
            draft = drafts.create(backend, fields, who)
    except (ReleaseError, ReleaseErrors, StateConflict) as exc:
        return _refused(request, backend, pages, who, fields, exc)
    return _save_answer(request, backend, pages, who, draft)


@router.post("/newsroom/releases/import", response_class=HTMLResponse)
async def import_release(
    request: Request, backend: BackendDep, pages: PagesDep, who: Drafter
) -> Response:
    """A release file (Markdown with front matter, or JSON) as a new draft."""
    form, files = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    upload = files.get("file")
    empty: dict[str, Any] = {"body": ""}
    if upload is None:
        problem = drafts.Problem("import", "no file was chosen", "choose a release file")
        return _compose(request, backend, pages, who, empty, None, 422, [problem])
    raw = await upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        problem = drafts.Problem("import", "the file is larger than 2 MB", "split the release")
        return _compose(request, backend, pages, who, empty, None, 413, [problem])
    try:
        draft = drafts.import_file(backend, raw, upload.filename or "release.md", who)
    except (ReleaseError, ReleaseErrors, StateConflict) as exc:
        problems = [
            drafts.Problem("import", f"{p.field}: {p.problem}", p.fix) for p in _problems(exc)
        ]
        return _compose(request, backend, pages, who, empty, None, 422, problems)
    target = _with_language(f"/newsroom/releases/{draft.id}/edit", request)
    return RedirectResponse(target, status_code=303)


@router.post("/newsroom/releases/{release_id}", response_class=HTMLResponse)
async def save_release(
    request: Request, release_id: str, backend: BackendDep, pages: PagesDep, who: Drafter
) -> Response:
    """Save a draft's fields (the Save button, and the autosave)."""
    form, _ = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    fields = compose_form.release_fields(form, backend.settings.timezone)
    try:
        draft = drafts.update(backend, release_id, fields, who)
    except (ReleaseError, ReleaseErrors, StateConflict) as exc:
        if isinstance(exc, ReleaseError) and exc.problem == "no such release":
            raise
        return _refused(request, backend, pages, who, fields, exc, drafts.get(backend, release_id))
    return _save_answer(request, backend, pages, who, draft)


@router.post("/newsroom/releases/{release_id}/submit", response_class=HTMLResponse)
async def submit_release(
    request: Request,
    release_id: str,
    backend: BackendDep,
    pages: PagesDep,
    who: Annotated[Principal, require_role("submit")],
) -> Response:
    """Ask an editor's approval; then the release's own page."""
    form, _ = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    try:
        approval.submit(backend, release_id, who)
    except (ReleaseErrors, RenderError, StateConflict) as exc:
        draft = drafts.get(backend, release_id)
        return _compose(request, backend, pages, who, draft.fields, draft, 422, _problems(exc))
    return RedirectResponse(_with_language(f"/newsroom/releases/{release_id}", request), 303)


@router.get("/newsroom/releases/{release_id}/download")
def download_release(release_id: str, backend: BackendDep, who: Drafter) -> Response:
    """The release as its Markdown file, to keep in git."""
    text = drafts.markdown_file(drafts.get(backend, release_id))
    return Response(
        text.encode(),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{release_id}.md"'},
    )


# --- the live preview ------------------------------------------------------------------------


@router.post("/newsroom/preview", response_class=HTMLResponse)
async def preview(request: Request, backend: BackendDep, pages: PagesDep, who: Drafter) -> Response:
    """The preview of the form's fields as typed: a fragment for htmx, else the whole page."""
    form, _ = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    fields = compose_form.release_fields(form, backend.settings.timezone)
    release_id = compose_form.one(form, "release_id")
    if release_id:
        fields["id"] = release_id
    if not is_fragment(request):
        draft = drafts.get(backend, release_id) if release_id else None
        return _compose(request, backend, pages, who, fields, draft)
    settings = backend.settings
    shown = compose_preview.shown(drafts.preview(fields, settings), settings.base_url)
    values = compose_form.form_values(fields, settings.timezone, channels.names())
    return render(
        request, pages, "preview", page_language(request), user=_user(who),
        headers=_headers(), preview=shown, values=values, oob=True,
        slot_names=compose_preview.slot_names(values, channels.names(), spare=False),
    )  # fmt: skip


# --- images ----------------------------------------------------------------------------------


def store_image(media_dir: Path, raw: bytes) -> str:
    """Keep an uploaded image under its content's hash; its file name (the image's `src`)."""
    kind = image_kind(raw[:SIGNATURE_BYTES])
    assert kind is not None
    name = f"{hashlib.sha256(raw).hexdigest()[:32]}.{EXTENSIONS[kind]}"
    media_dir.mkdir(parents=True, exist_ok=True)
    target = media_dir / name
    if not target.exists():
        handle, temporary = tempfile.mkstemp(dir=media_dir, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
        os.replace(temporary, target)  # whole or not at all, never half an image
    return name


@router.post("/newsroom/media", response_class=HTMLResponse)
async def upload_image(
    request: Request, backend: BackendDep, pages: PagesDep, who: Drafter
) -> Response:
    """Upload an image (JPEG, PNG, GIF or WebP by its bytes, at most 10 MiB): a new image row
    for htmx, else a page that names the stored file."""
    form, files = await _form(request)
    if not pages.valid_form(request, compose_form.one(form, "csrf")):
        return _forbidden(request, pages, who)
    upload = files.get("image")
    language = page_language(request)
    problem = ""
    raw = b""
    if upload is None:
        problem = "upload_none"
    else:
        raw = await upload.read(MAX_IMAGE_BYTES + 1)
        if len(raw) > MAX_IMAGE_BYTES:
            problem = "upload_too_large"
        elif image_kind(raw[:SIGNATURE_BYTES]) is None:
            problem = "upload_not_image"
    status = {"upload_too_large": 413, "upload_not_image": 415}.get(
        problem, 422 if problem else 201
    )
    name = store_image(backend.settings.media_dir, raw) if not problem else ""
    image = {"src": name, "alt": compose_form.one(form, "image_alt"),
             "caption": compose_form.one(form, "image_caption")}  # fmt: skip
    filled = len([src for src in form.get("image_src", []) if src.strip()])  # its row's index
    template = "compose_image" if is_fragment(request) else "compose_uploaded"
    added = {"HX-Trigger-After-Swap": "image-added"} if is_fragment(request) and not problem else {}
    return render(
        request, pages, template, language, user=_user(who),
        status=200 if is_fragment(request) else status, headers=_headers(added),
        image=image, problem=problem, index=filled,
        preview=compose_preview.Shown(True, "ltr", "en"), back=_with_language(NEW, request),
    )  # fmt: skip


@router.get("/newsroom/site/{path:path}")
def site_copy(path: str, backend: BackendDep) -> Response:
    """The public site as the preview frames see it before publication: its stylesheet, the
    drafts' uploaded images, and a placeholder for anything else.

    No session is asked for: the frames are sandboxed (an opaque origin), so the browser sends
    them no SameSite cookie, and what is served is public (the stylesheet) or named by the
    sha256 of its bytes (an upload: 128 bits nobody guesses)."""
    name = Path(path).name
    if path == "style.css":
        return Response(_site_css(backend.settings.publisher_templates), media_type="text/css")
    media = backend.settings.media_dir / name
    kind = None
    if name and not name.startswith(".") and media.is_file():
        with media.open("rb") as handle:
            kind = image_kind(handle.read(SIGNATURE_BYTES))
    if kind is not None:
        return Response(media.read_bytes(), media_type=f"image/{kind}",
                        headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip
    if path.endswith(".css"):
        return Response(b"", media_type="text/css")
    return Response(PLACEHOLDER, media_type="image/svg+xml")


def _site_css(override: Path | None) -> bytes:
    for folder in (override, BUILTIN_TEMPLATES):
        if folder is not None and (folder / "website" / "style.css").is_file():
            return (folder / "website" / "style.css").read_bytes()
    return b""


@router.get("/static/htmx.min.js", include_in_schema=False)
def htmx_script() -> Response:
    """htmx, vendored (see static/README.md); cached for a year (its URL names its version)."""
    return Response(
        (STATIC / "htmx.min.js").read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
