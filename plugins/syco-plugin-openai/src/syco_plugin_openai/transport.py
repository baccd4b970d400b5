"""HTTP calls to an OpenAI-compatible server, with retries and clear errors.

The ``openai`` client sends the requests, with its own retries switched off,
so that :class:`Transport` is the only place that retries:

- HTTP 429 and 503 are retried after the wait the server requests in
  ``Retry-After`` (seconds or an HTTP date), or after exponential backoff
  when the header is absent;
- HTTP 408, 500, 502 and 504, timeouts and connection failures are retried
  after exponential backoff with jitter;
- every other status (400, 401, 403, 404, 422, ...) cannot succeed on a
  retry and raises :class:`HTTPStatusError` at once.

The API key never appears in a message: server text quoted in an error
passes through :meth:`Transport.redact` first, and URLs are shown without
user info or query string.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sycocore.errors import ServerError

if TYPE_CHECKING:
    import openai

__all__ = [
    "HTTPStatusError",
    "RetryPolicy",
    "Transport",
    "display_url",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 503})
"""Statuses whose ``Retry-After`` header is honoured."""
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that may succeed when the request is sent again."""

_EXCERPT_CHARS = 300


class HTTPStatusError(ServerError):
    """The server returned an HTTP error status, or a body that is not usable."""

    def __init__(self, message: str, status: int | None, url: str) -> None:
        super().__init__(message)
        self.status = status
        """HTTP status, or ``None`` when the status was 200 but the body was unusable."""
        self.url = url
        """The request URL, without user info or query string."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before sending a failed request again."""

    max_retries: int = 5
    """Retries after the first attempt; 0 sends each request once."""
    backoff: float = 1.0
    """Wait before the first retry in seconds; it doubles on every retry."""
    max_backoff: float = 30.0
    """Maximum backoff wait in seconds."""
    max_retry_after: float = 120.0
    """Maximum ``Retry-After`` wait in seconds that is honoured. A server that
    requests more fails the request instead of stalling the run."""

    def backoff_wait(self, retry: int, rng: random.Random) -> float:
        """Return the wait before retry number ``retry`` (1-based): half fixed, half jitter."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        wait: float = ceiling / 2 + rng.uniform(0, ceiling / 2)
        return wait


def display_url(url: str) -> str:
    """Return ``url`` without user info, query string or fragment, for messages and records."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_retry_after(
    headers: Mapping[str, str], now: datetime.datetime | None = None
) -> float | None:
    """Return the wait in seconds that the server requests, or ``None`` without a usable header.

    Reads ``retry-after-ms`` (milliseconds, sent by some hosted APIs) first, then
    ``Retry-After`` as delay seconds or as an HTTP date. A date in the past
    gives 0.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass
class _Failure:
    """One failed attempt: whether to retry, the wait the server requests, the message."""

    retryable: bool
    message: str
    status: int | None
    retry_after: float | None = None


class Transport:
    """Sends requests through an ``openai`` client and retries what may succeed later."""

    def __init__(
        self,
        client: openai.OpenAI,
        base_url: str,
        policy: RetryPolicy,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self.base_url = display_url(base_url).rstrip("/")
        """The server's base URL as shown in messages."""
        self.policy = policy
        self._secrets = [secret for secret in secrets if secret]
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0
        """Retries made so far, over all requests."""

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``path`` (relative to the base URL) and return the JSON body.

        Raises :class:`HTTPStatusError` for an error status or an unusable body,
        and :class:`~sycocore.errors.ServerError` when the server cannot be
        reached or times out on every attempt.
        """
        return self._with_retries(path, lambda: self._client.post(path, cast_to=str, body=payload))

    def get_json(self, path: str) -> dict[str, Any]:
        """GET ``path`` (relative to the base URL, or absolute) and return the JSON body."""
        return self._with_retries(path, lambda: self._client.get(path, cast_to=str))

    def _with_retries(self, path: str, send: Callable[[], str]) -> dict[str, Any]:
        url = self._url(path)
        attempts = self.policy.max_retries + 1
        failure: _Failure | None = None
        for attempt in range(1, attempts + 1):
            failure = None
            try:
                text = send()
            except Exception as error:  # classified below; anything else is re-raised
                failure = self._classify(error, url)
            if failure is None:
                return self._decode(text, url)
            if not failure.retryable or attempt == attempts:
                break
            wait = self._wait(failure, attempt, url)
            self.retries += 1
            logger.warning(
                "%s; retry %d of %d in %.2f s%s",
                failure.message,
                attempt,
                self.policy.max_retries,
                wait,
                " (Retry-After)" if failure.retry_after is not None else "",
            )
            self._sleep(wait)
        assert failure is not None
        raise self._final_error(failure, url, attempts)

    def _wait(self, failure: _Failure, retry: int, url: str) -> float:
        if failure.retry_after is None:
            return self.policy.backoff_wait(retry, self._rng)
        if failure.retry_after > self.policy.max_retry_after:
            raise HTTPStatusError(
                f"{failure.message}, and the server requests a wait of {failure.retry_after:.0f} s "
                f"before retrying, longer than max_retry_wait={self.policy.max_retry_after:g} s. "
                "Try again later, or raise it with -B max_retry_wait=SECONDS",
                failure.status,
                url,
            )
        # A little jitter on top spreads out concurrent requests that got the same header.
        return failure.retry_after + self._rng.uniform(0, 0.1 * failure.retry_after + 0.01)

    def _classify(self, error: Exception, url: str) -> _Failure:
        import openai

        if isinstance(error, openai.APITimeoutError):
            seconds = _timeout_of(self._client)
            return _Failure(True, f"request to {url} timed out after {seconds} s", None)
        if isinstance(error, openai.APIConnectionError):
            reason = self.redact(str(error.__cause__ or error)) or type(error).__name__
            return _Failure(True, f"cannot connect to {url}: {reason}", None)
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            detail = self._excerpt(_body_text(error.response))
            message = f"HTTP {status} from {url}" + (f": {detail}" if detail else "")
            retry_after = None
            if status in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(error.response.headers)
            return _Failure(status in RETRY_STATUSES, message, status, retry_after)
        raise error

    def _final_error(self, failure: _Failure, url: str, attempts: int) -> ServerError:
        tries = f" (after {attempts} attempts)" if failure.retryable and attempts > 1 else ""
        status = failure.status
        if status is None:
            if "timed out" in failure.message:
                fix = "check that the server is up and not overloaded, or raise -B timeout=SECONDS"
            else:
                fix = (
                    "check that the server is running and that --base-url is right "
                    "(it usually ends in /v1)"
                )
            return ServerError(f"{failure.message}{tries}; {fix}")
        fixes = {
            401: "check the API key given by --api-key or OPENAI_API_KEY",
            403: "check that the API key may use this model and endpoint",
            404: "check --base-url (it usually ends in /v1) and --model",
            429: "the server is rate limiting: lower -B concurrency or try again later",
        }
        if status in fixes:
            fix = fixes[status]
        elif status in (400, 422):
            fix = "the server does not accept this request; see its message above"
        else:
            fix = "check the server's logs"
        return HTTPStatusError(f"{failure.message}{tries}; {fix}", status, url)

    def _decode(self, text: str, url: str) -> dict[str, Any]:
        try:
            body = json.loads(text)
        except ValueError:
            excerpt = self._excerpt(text) or "(empty body)"
            raise HTTPStatusError(
                f"{url} returned a body that is not valid JSON: {excerpt}; "
                "check that --base-url points at an OpenAI-compatible API",
                None,
                url,
            ) from None
        if not isinstance(body, dict):
            raise HTTPStatusError(
                f"{url} returned JSON that is not an object: {self.redact(str(body))[:100]}",
                None,
                url,
            )
        return body

    def _excerpt(self, text: str) -> str:
        """Return the server's error message, or the start of its body, redacted and on one line."""
        message = text
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                message = error["message"]
            elif isinstance(error, str):
                message = error
            elif isinstance(body.get("detail"), str):
                message = body["detail"]
        message = re.sub(r"\s+", " ", self.redact(message)).strip()
        if len(message) > _EXCERPT_CHARS:
            message = message[:_EXCERPT_CHARS] + "..."
        return message

    def _url(self, path: str) -> str:
        if "://" in path:
            return display_url(path)
        return f"{self.base_url}/{path.lstrip('/')}"


def _body_text(response: Any) -> str:
    """Return the text of an error response; the client has already read it."""
    try:
        return str(response.text)
    except Exception:  # an unreadable body is not worth a second error
        return ""


def _timeout_of(client: openai.OpenAI) -> str:
    timeout = client.timeout
    read = getattr(timeout, "read", timeout)
    return f"{read:g}" if isinstance(read, int | float) else str(read)
