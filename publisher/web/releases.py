"""The newsroom's pages for the releases' list, a release's page (history; submit, approve,
publish, schedule, cancel) and its delivery page (live progress, retry, resume)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
