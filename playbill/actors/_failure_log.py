"""Actor failures on the standard ``logging`` module, in one shape for every performer.

The kernel decides; each performer carries out its ``Publish(Failed(...))`` command and, when
logging, hands the event to a `FailureLog`. What the actor was doing when it failed (the
message it handled, or the hook it ran) is known only where the performer called user code,
so the performer notes it there (`FailureLog.failing`) and the log line joins the two.
"""

from __future__ import annotations

import logging
from typing import final

from playbill.actors._events import Failed

__all__ = ["FailureLog", "logger"]

logger = logging.getLogger("playbill")


@final
class FailureLog:
    """Logs each `Failed` event as an error of the ``playbill`` logger, with the actor's path,
    what it was doing (the message type, or the hook) and the directive its supervisor took,
    both in the text and as record attributes (``actor_path``, ``message_type``, ``hook``,
    ``directive``) for filters and structured handlers; the error is the record's
    ``exc_info``.

    >>> log = FailureLog()
    >>> error = KeyError("k")
    >>> log.failing("/app/worker", error, message=("ping", 1))
    >>> log.text(Failed("/app/worker", 0.0, error, "RESTART"))
    "actor /app/worker failed handling a tuple: KeyError('k'); its supervisor decided RESTART"
    """

    __slots__ = ("_doing",)

    def __init__(self) -> None:
        # path -> (the error, the message type, the hook): kept until its Failed is logged
        # or the actor is gone, so that no traceback outlives its report
        self._doing: dict[str, tuple[BaseException, str | None, str | None]] = {}

    def failing(
        self,
        path: str,
        error: BaseException,
        *,
        message: object = None,
        hook: str | None = None,
    ) -> None:
        """Note that the actor at ``path`` failed with ``error`` while handling ``message``
        (or running ``hook``)."""
        kind = None if hook is not None else type(message).__name__
        self._doing[path] = (error, kind, hook)

    def forget(self, path: str) -> None:
        """The actor at ``path`` is gone: what was noted of it goes too."""
        self._doing.pop(path, None)

    def _take(self, event: Failed) -> tuple[str | None, str | None]:
        noted = self._doing.get(event.path)
        if noted is None or noted[0] is not event.error:
            return None, None
        del self._doing[event.path]
        return noted[1], noted[2]

    def text(self, event: Failed) -> str:
        """The log line of ``event`` (and what was noted of it is forgotten)."""
        kind, hook = self._take(event)
        return _line(event, kind, hook)

    def failed(self, event: Failed) -> None:
        """Log ``event``."""
        if not logger.isEnabledFor(logging.ERROR):
            self._take(event)
            return
        kind, hook = self._take(event)
        logger.error(
            "%s",
            _line(event, kind, hook),
            exc_info=event.error,
            extra={
                "actor_path": event.path,
                "message_type": kind,
                "hook": hook,
                "directive": event.directive,
            },
        )


def _line(event: Failed, kind: str | None, hook: str | None) -> str:
    if hook is not None:
        doing = f" in {hook}"
    elif kind is not None:
        doing = f" handling {_article(kind)}"
    else:
        doing = ""
    return (
        f"actor {event.path} failed{doing}: {event.error!r}; its supervisor decided "
        f"{event.directive}"
    )


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"
