"""The service layer: the one API every face (command line, web pages, REST API, bot) calls.

One function per use case; each takes a `Backend` (the store, the queue of worker tasks, the
settings) and, where it changes something, who did it. Faces parse their input, call one of
these and present the answer, so they cannot drift apart.
"""

from __future__ import annotations

from publisher.services.backend import Backend, Queue, connect, stop_embedded
from publisher.services.content import build_site, import_page
from publisher.services.health import health
from publisher.services.recipients import (
    ImportReport,
    add_journalist,
    import_journalists,
    import_subscribers,
    list_recipients,
    remove_journalist,
    stats,
    subscribe,
    suppress,
    unsubscribe,
)
from publisher.services.releases import (
    Rendering,
    Submission,
    cancel,
    channel_names,
    load,
    parse_time,
    prepare,
    render,
    require_release,
    resume,
    submit,
    submit_rendered,
    validate,
)
from publisher.services.rendering import for_people, public, render_all
from publisher.services.status import deliveries, exit_code_for, finished, release_status, watch

__all__ = [
    "Backend",
    "ImportReport",
    "Queue",
    "Rendering",
    "Submission",
    "add_journalist",
    "build_site",
    "import_page",
    "cancel",
    "channel_names",
    "connect",
    "deliveries",
    "exit_code_for",
    "finished",
    "for_people",
    "health",
    "import_journalists",
    "import_subscribers",
    "list_recipients",
    "load",
    "parse_time",
    "prepare",
    "public",
    "release_status",
    "remove_journalist",
    "render",
    "render_all",
    "require_release",
    "resume",
    "stats",
    "stop_embedded",
    "submit",
    "submit_rendered",
    "subscribe",
    "suppress",
    "unsubscribe",
    "validate",
    "watch",
]
