"""The newsroom's pages for composing a release: the form, autosave, image uploads, import and
download, and the live preview."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
