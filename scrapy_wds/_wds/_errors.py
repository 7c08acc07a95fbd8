"""The typed errors a WDS request's errback receives.

Every error names what was asked (``action``, ``task_id``, the task's
``page_url``), what the server
answered (``status``, ``server_text``, truncated) and carries a ``hint`` that
says what the user can do about it.  They derive from Scrapy's
:class:`~scrapy.exceptions.IgnoreRequest` on purpose: the middleware already
logs one actionable line per failure, so a request without an errback is
dropped quietly instead of Scrapy adding a traceback from deep inside the
downloader.
"""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

#: Longest server text kept on an error (the rest is cut, with a marker).
SERVER_TEXT_LIMIT = 500


def describe_call(action: str, task_id: str | None, job: str | None, page_url: str | None) -> str:
    """``info on task 't1' of job 'books' (page http://…)``: what a call was about.

    The page URL is there because a task id alone means nothing to the user:
    the page is what they can open, exclude or report.
    """
    target = f"task {task_id!r}" if task_id is not None else "the job start"
    if job:
        target += f" of job {job!r}"
    if page_url:
        target += f" (page {page_url})"
    return f"{action} on {target}"


def truncate_server_text(text: str, limit: int = SERVER_TEXT_LIMIT) -> str:
    """The server's error text on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit] + f"… [{len(flat) - limit} more characters]"


class WdsError(IgnoreRequest):
    """Base of every error the WDS downloader middleware delivers to an errback.

    Attributes: ``status`` (HTTP status of the last answer, ``None`` when the
    connection failed), ``action`` (``"info"``, ``"crawl"``…), ``task_id``
    (``None`` for a job start), ``job``, ``page_url`` (the task's page,
    ``None`` for a job start), ``server_text`` (truncated) and ``url`` (the
    API URL called).
    """

    #: What the user can do; each subclass says it for its own case.
    hint = "check the WDS server's own logs for this call"

    def __init__(
        self,
        *,
        status: int | None,
        action: str,
        task_id: str | None,
        server_text: str = "",
        job: str | None = None,
        page_url: str | None = None,
        url: str = "",
        detail: str = "",
    ) -> None:
        self.status = status
        self.action = action
        self.task_id = task_id
        self.job = job
        self.page_url = page_url
        self.server_text = truncate_server_text(server_text)
        self.url = url
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        call = describe_call(self.action, self.task_id, self.job, self.page_url)
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        parts = [f"WDS {call} failed ({answer})"]
        if self.detail:
            parts.append(self.detail)
        if self.server_text:
            parts.append(f"server said: {self.server_text!r}")
        parts.append(f"what to do: {self.hint}")
        return "; ".join(parts)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only constructor: rebuild from the attributes, so the error
        # survives pickling (multiprocess test runners, scrapy-redis workers).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[WdsError], state: dict[str, object]) -> WdsError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    IgnoreRequest.__init__(error, error._message())
    return error


class WdsBadRequest(WdsError):
    """400: the server rejected the call's parameters (selector, attribute, body)."""

    hint = "fix the selector or parameters quoted above; the call is not retried"


class WdsAccessDenied(WdsError):
    """403: WDS could not access the page (robots.txt denial, request gateways exhausted)."""

    hint = (
        "the page is off limits to WDS (robots.txt) or every request gateway failed; "
        "check the job's Proxy / CrawlDelays settings; the call is not retried"
    )


class WdsTaskNotFound(WdsError):
    """404: the task (or job) is unknown to the server."""

    hint = (
        "the task id is not known to this server (job restarted FromScratch, "
        "another server, or a stale JOBDIR); the call is not retried"
    )


class WdsUnprocessable(WdsError):
    """422: the page was downloaded but its content could not be processed."""

    hint = "the page content cannot be crawled/scraped by WDS; the call is not retried"


class WdsUnexpectedResponse(WdsError):
    """Any other answer the API does not document (401, 405, 409…)."""

    hint = (
        "check WDS_API_URL (including its path) and WDS_API_HEADERS "
        "(an authenticating proxy may need an Authorization header)"
    )


class WdsServerError(WdsError):
    """5xx answers or failed connections, still failing after every retry."""

    hint = (
        "the WDS server is failing or unreachable; check that it runs at WDS_API_URL, "
        "or raise WDS_RETRY_TIMES / WDS_RETRY_MAX_DELAY"
    )


class WdsGaveUpWaiting(WdsError):
    """The task kept answering 202 (not downloaded yet) for longer than WDS_POLL_MAX_WAIT."""

    hint = (
        "WDS has not downloaded the page yet; raise WDS_POLL_MAX_WAIT, or check "
        "the job's crawl delays and request gateways on the WDS server"
    )


#: Error class per documented "do not retry" status.
ERROR_BY_STATUS: dict[int, type[WdsError]] = {
    400: WdsBadRequest,
    403: WdsAccessDenied,
    404: WdsTaskNotFound,
    422: WdsUnprocessable,
}
