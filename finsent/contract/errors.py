"""Errors a user can cause. Each carries a message written for that user; the UI and CLI show it as is.

Tracebacks are for bugs: anything that is not a FinsentError is a bug and is reported as such.
"""

from __future__ import annotations

from finsent.contract.texts import Text


class FinsentError(Exception):
    """Base of every user-facing error. `message` says what went wrong and what to do."""

    #: machine-readable kind, also the key for translated UI messages
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        ko: str | None = None,
        hint_ko: str | None = None,
        dashboard_hint: Text | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The Korean UI shows `ko`/`hint_ko` where the raise site wrote them; English otherwise.
        self.ko = ko
        self.hint_ko = hint_ko
        # Hints naming CLI commands or flags do not help in the browser: the dashboard shows this one instead.
        self.dashboard_hint = dashboard_hint

    def __str__(self) -> str:
        return self.text("en")

    def texts(self) -> Text:
        """The message and hint in both languages, as stored with a job or a bulk run."""
        return Text(self.text("en"), self.text("ko") if self.ko else None)

    def text(self, lang: str = "en", *, dashboard: bool = False) -> str:
        """The message and hint in `lang` ("ko" or "en"), falling back to English; `dashboard` prefers the
        hint that names the dashboard's controls."""
        message = self.ko if lang == "ko" and self.ko else self.message
        if dashboard and self.dashboard_hint is not None:
            hint: str | None = self.dashboard_hint.get(lang)
        else:
            hint = (self.hint_ko or self.hint) if lang == "ko" and self.ko else self.hint
        return f"{message} {hint}" if hint else message


class InputError(FinsentError):
    """A file or value the user gave cannot be used (encoding, format, columns, size, options)."""

    code = "input"


class DataError(InputError):
    """The data was read but cannot be prepared (no rows, unknown labels only, too few per class...)."""

    code = "data"


class NotFoundError(FinsentError):
    """An unknown job, dataset, model, bulk run or backend."""

    code = "not_found"


class BackendUnavailableError(FinsentError):
    """A backend cannot be used here (missing key, missing package, plugin failed to load)."""

    code = "backend_unavailable"


class AuthenticationError(FinsentError):
    """The service refused the key (HTTP 401). Never includes the key itself."""

    code = "auth"


class PermissionDeniedError(FinsentError):
    """The account may not do this (HTTP 403), e.g. fine-tuning refused for the organisation."""

    code = "permission"


class RateLimitError(FinsentError):
    """Quota or rate limit reached (HTTP 429) after retries."""

    code = "rate_limit"


class NetworkError(FinsentError):
    """The service could not be reached (offline, DNS, refused, timed out)."""

    code = "network"


class JobFailedError(FinsentError):
    """A training job ended in failure; message carries the backend's error code and text."""

    code = "job_failed"


class CancelledError(FinsentError):
    """An operation was cancelled by the user; work done so far is kept."""

    code = "cancelled"
