"""The REST API's `Idempotency-Key`: a client that sends a POST again after a timeout gets the
first answer again instead of a second release or a second publish.

A key is scoped to the API token (the store keeps it by the sha256 of the token's name and the
key) and remembers a fingerprint of its request (method, path, content type and body):

    begin -> Run      nobody used the key: the caller runs the request, then `finish`es it
                      with its answer (kept 24 hours) or `forget`s it (a server error: a
                      retry may run)
          -> Replay   the same request was answered: its first answer, nothing done again
          -> Busy     the same key is still running (409)
          -> Reused   the key was used for another request (422)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from publisher.services.backend import Backend

KEEP_S = 24 * 3600
#: How long a running request holds its key: a process that died mid-request frees it then.
RUNNING_S = 120
MAX_KEY = 255
_BOUNDARY = re.compile(r";\s*boundary=\"?([^\";]+)\"?", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """A response as it is kept for a replay."""

    status: int
    media_type: str
    body: str


@dataclass(frozen=True)
class Run:
    """The caller runs the request; `digest` names the key for `finish` and `forget`."""

    digest: str


@dataclass(frozen=True)
class Replay:
    answer: Answer


@dataclass(frozen=True)
class Busy:
    """The first request with this key has not answered yet."""


@dataclass(frozen=True)
class Reused:
    """The key was given with another request before."""


Begun = Run | Replay | Busy | Reused


def fingerprint(method: str, path: str, content_type: str, body: bytes) -> str:
    """The sha256 of what makes two requests the same. A multipart body's boundary is left
    out: a client retrying a file upload picks a new one for the same content."""
    found = _BOUNDARY.search(content_type)
    if found:
        content_type = _BOUNDARY.sub("", content_type)
        body = body.replace(found.group(1).encode("latin-1", "replace"), b"")
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), content_type.strip().lower().encode()):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _digest(token_name: str, key: str) -> str:
    return hashlib.sha256(f"{token_name}\0{key}".encode()).hexdigest()


def begin(backend: Backend, token_name: str, key: str, request_fingerprint: str) -> Begun:
    """Claim `key` of the token for a request with this fingerprint, atomically: of many
    requests at once, exactly one gets Run."""
    digest = _digest(token_name, key)
    found = backend.store.idempotency_begin(digest, request_fingerprint, RUNNING_S)
    if found is None:
        return Run(digest)
    if found.get("fingerprint") != request_fingerprint:
        return Reused()
    if found.get("state") != "done":
        return Busy()
    media_type, _, body = found.get("body", "").partition("\n")
    return Replay(Answer(int(found.get("status") or 200), media_type, body))


def finish(backend: Backend, run: Run, answer: Answer) -> None:
    """Keep the request's answer for KEEP_S, for every retry with the same key and body."""
    kept = f"{answer.media_type}\n{answer.body}"
    backend.store.idempotency_finish(run.digest, answer.status, kept, KEEP_S)


def forget(backend: Backend, run: Run) -> None:
    """Free the key (the request failed on our side): a retry runs it afresh."""
    backend.store.idempotency_forget(run.digest)
