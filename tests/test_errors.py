"""Every error pickles (they cross Celery's process boundary) and keeps what it carries."""

from __future__ import annotations

import pickle

import pytest

from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    PublisherError,
    ReleaseError,
    ReleaseErrors,
    RenderError,
    StoreUnavailable,
    TransientDeliveryError,
)

CASES = [
    ReleaseError("r.md", "title", "missing", "add a title"),
    ReleaseErrors([ReleaseError("r.md", "date", "missing", "add a date")]),
    RenderError("x", "post too long", "r.md"),
    StoreUnavailable("cannot reach Redis"),
    DeliveryError("boom"),
    TransientDeliveryError("429 Too Many Requests", retry_after_s=3.0),
    PermanentDeliveryError("bot was blocked by the user", gone=True),
    ChannelFault("Telegram refused the bot token"),
]


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_fields(error: PublisherError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    if isinstance(error, ReleaseErrors):
        assert [str(e) for e in copy.errors] == [str(e) for e in error.errors]
    else:
        assert vars(copy) == vars(error)


def test_the_tree() -> None:
    assert issubclass(TransientDeliveryError, DeliveryError)
    assert issubclass(PermanentDeliveryError, DeliveryError)
    assert issubclass(ChannelFault, DeliveryError)
    assert issubclass(DeliveryError, PublisherError)
    assert issubclass(ReleaseError, PublisherError)
    copy = pickle.loads(pickle.dumps(CASES[5]))
    assert isinstance(copy, TransientDeliveryError) and copy.retry_after_s == 3.0
    gone = pickle.loads(pickle.dumps(CASES[6]))
    assert isinstance(gone, PermanentDeliveryError) and gone.gone
