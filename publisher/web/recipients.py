"""The newsroom's pages for the recipients: Telegram subscribers (counts, search) and journalists
(import, add, edit, suppress)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
