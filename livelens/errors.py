"""User errors: one line on stderr and a non-zero exit, never a traceback (unless ``--debug``).

Commands raise :class:`UserError` for what the user can fix (bad input, a missing service);
:func:`describe` also turns the known error types of the libraries and of our own data loaders
into one line. ``livelens/cli.py`` ``main()`` is the only place that prints them.
"""

from __future__ import annotations

import errno


class UserError(Exception):
    """Something the user can fix; its message is the whole report (one line)."""

    exit_code = 1


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def _validation(exc) -> str:
    """pydantic's multi-line report as one line: the first problem, and how many more."""
    errors = exc.errors()
    if not errors:
        return _first_line(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or exc.title
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid {exc.title} {where}: {first.get('msg', '')}{more}"


def describe(exc: BaseException) -> str | None:
    """A one-line message for an error the user can act on; None for anything else (a bug)."""
    if isinstance(exc, UserError):
        return _first_line(exc)
    try:
        import av.error
    except ImportError:  # pragma: no cover - av is a dependency
        av = None
    if av is not None and isinstance(exc, av.error.FFmpegError):
        name = getattr(exc, "filename", None)
        return f"cannot read media{f' {name}' if name else ''}: {exc.strerror or _first_line(exc)}"
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    if isinstance(exc, ValidationError):
        return _validation(exc)
    if isinstance(exc, SettingsError):
        cause = exc.__cause__
        return f"{_first_line(exc)}{f': {_first_line(cause)}' if cause else ''}"
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    if isinstance(exc, (KafkaConnectionError, KafkaTimeoutError)):
        return f"Kafka broker not reachable: {_first_line(exc)} (check LIVELENS_KAFKA_BOOTSTRAP)"
    import redis.exceptions

    if isinstance(exc, redis.exceptions.AuthenticationError):
        return f"Redis refused the credentials: {_first_line(exc)} (check LIVELENS_REDIS_URL)"
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return f"Redis not reachable: {_first_line(exc)} (check LIVELENS_REDIS_URL)"
    from models.asr.audio import BadAudio
    from models.asr.models import ModelNotAvailable
    from models.recommend.rules import RulesError
    from models.taxonomy import TaxonomyError
    from models.weights import WeightsMismatch
    from media.cutter import CutError
    from streams.framework import FrameworkVersionMismatch
    from media.decode import MediaOpenError

    if isinstance(exc, (BadAudio, ModelNotAvailable, RulesError, TaxonomyError, WeightsMismatch, CutError,
                        MediaOpenError, FrameworkVersionMismatch)):
        return _first_line(exc)
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        return f"{exc.strerror or _first_line(exc)}: {exc.filename}"
    if isinstance(exc, (ConnectionError, TimeoutError)):  # ours say what was unreachable
        return _first_line(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"connection failed: {exc.strerror}"
    return None
