"""Every error pickles (they cross Celery's process boundary) and keeps what it carries."""

from __future__ import annotations

import pickle

import pytest

from publisher.errors import (
    ApprovalRefused,
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    PublisherError,
    RecipientMoved,
    ReleaseError,
    ReleaseErrors,
    RenderError,
    StateConflict,
    StoreUnavailable,
    TokenError,
    TransientDeliveryError,
    UnknownChannelError,
    WorkersUnavailable,
)

CASES = [
    ReleaseError("r.md", "title", "missing", "add a title"),
    ReleaseErrors([ReleaseError("r.md", "date", "missing", "add a date")]),
    RenderError("x", "post too long", "r.md"),
    StoreUnavailable("cannot reach Redis"),
    WorkersUnavailable("no worker is running"),
    UnknownChannelError("unknown channel 'myspace'; use telegram, x", "myspace"),
    DeliveryError("boom"),
    TransientDeliveryError("429 Too Many Requests", retry_after_s=3.0),
    PermanentDeliveryError("bot was blocked by the user", gone=True),
    ChannelFault("Telegram refused the bot token"),
    RecipientMoved("the group became a supergroup", "-1001234567890"),
    TokenError("expired", "confirm"),
    StateConflict("2024-05-01-envoy", "draft", "is draft, not approved"),
    ApprovalRefused("2024-05-01-envoy", "its author may not approve it"),
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
    copy = pickle.loads(pickle.dumps(CASES[7]))
    assert isinstance(copy, TransientDeliveryError) and copy.retry_after_s == 3.0
    gone = pickle.loads(pickle.dumps(CASES[8]))
    assert isinstance(gone, PermanentDeliveryError) and gone.gone


def test_every_error_class_is_in_the_cases() -> None:
    """A new error class must be added above, so that its pickling is proven too."""
    import publisher.errors as errors

    classes = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, PublisherError)
    }
    assert classes - {PublisherError} == {type(case) for case in CASES}
