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

import re

from scrapy.exceptions import IgnoreRequest

#: Longest server text kept on an error (the rest is cut, with a marker).
SERVER_TEXT_LIMIT = 500


def describe_call(action: str, task_id: str | None, job: str | None, page_url: str | None) -> str:
    """``info on task 't1' of job 'books' (page http://…)``: what a call was about.

    The page URL is there because a task id alone means nothing to the user:
    the page is what they can open, exclude or report.
    """
    if task_id is None and action == "start":
        return f"start of job {job!r}" if job else "job start"
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
        self.hint = self.choose_hint()
        super().__init__(self._message())

    def choose_hint(self) -> str:
        """The hint for this call: subclasses pick by what failed and the server's words."""
        return type(self).hint

    @property
    def is_job_start(self) -> bool:
        return self.task_id is None and self.action == "start"

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


#: Where the API lives is wrong: the job start met a route the server does not serve.
_WRONG_PATH_HINT = (
    "the server at WDS_API_URL does not serve the WDS API under that path; set WDS_API_URL "
    "to the base under which /api/v2/ lives (e.g. http://localhost:2807, or "
    "http://host/wds/ behind a proxy); the call is not retried"
)
#: "Page answered HTTP 404": WDS downloaded the page and the site refused it.
_PAGE_STATUS = re.compile(r"\b(?:page|site|target)\b[^.;]*?\bHTTP\s*(\d{3})\b", re.IGNORECASE)


class WdsBadRequest(WdsError):
    """400: the server rejected the call's parameters (selector, attribute, body)."""

    hint = "fix the selector or parameters quoted above; the call is not retried"

    def choose_hint(self) -> str:
        if self.is_job_start:
            return (
                "the server refused the job's config: fix the JobConfig field it names "
                "(wds_job or wds_job_config()); the call is not retried"
            )
        return self.hint


class WdsAccessDenied(WdsError):
    """403: WDS could not access the page (robots.txt denial, request gateways exhausted)."""

    hint = (
        "the page is off limits to WDS (robots.txt) or every request gateway failed; "
        "check the job's Proxy / CrawlDelays settings; the call is not retried"
    )

    def choose_hint(self) -> str:
        text = self.server_text
        page_status = _PAGE_STATUS.search(text)
        if page_status:
            return (
                f"the page itself answered HTTP {page_status.group(1)} to WDS: the link is "
                "dead or the site refuses it; check the selector that led to it (or the "
                "start URL); the call is not retried"
            )
        if re.search(r"robots", text, re.IGNORECASE):
            return (
                "the site's robots.txt forbids this page to WDS's user agent; leave it out "
                "(an `on=` pattern, a narrower selector); the call is not retried"
            )
        if re.search(r"gate|proxy|proxies|timed? ?out|connect", text, re.IGNORECASE):
            return (
                "every request gateway (proxy, host IP) failed to download the page; check "
                "the job's Proxy and CrawlDelays settings on the WDS server; the call is not retried"
            )
        return self.hint


class WdsTaskNotFound(WdsError):
    """404: the task (or job) is unknown to the server."""

    hint = (
        "the task id is not known to this server (job restarted FromScratch, "
        "another server, or a stale JOBDIR); the call is not retried"
    )

    def choose_hint(self) -> str:
        return _WRONG_PATH_HINT if self.is_job_start else self.hint


class WdsUnprocessable(WdsError):
    """422: the page was downloaded but its content could not be processed."""

    hint = "the page content cannot be crawled/scraped by WDS; the call is not retried"


class WdsUnexpectedResponse(WdsError):
    """Any other answer the API does not document (401, 405, 409…)."""

    hint = (
        "check WDS_API_URL (including its path) and WDS_API_HEADERS "
        "(an authenticating proxy may need an Authorization header)"
    )

    def choose_hint(self) -> str:
        if self.status in (401, 407):
            return (
                "the server (or a proxy in front of it) wants credentials: add them to "
                'WDS_API_HEADERS, e.g. {"Authorization": "Bearer …"}'
            )
        if self.is_job_start and self.status in (404, 405):
            return _WRONG_PATH_HINT
        return self.hint


class WdsServerError(WdsError):
    """5xx answers or failed connections, still failing after every retry."""

    hint = (
        "the WDS server is failing or unreachable; check that it runs at WDS_API_URL, "
        "or raise WDS_RETRY_TIMES / WDS_RETRY_MAX_DELAY"
    )

    def choose_hint(self) -> str:
        if self.is_job_start:
            return (
                "no working WDS API answered at WDS_API_URL; start the WDS server (or fix "
                "WDS_API_URL), or raise WDS_START_PATIENCE to wait longer for it"
            )
        return self.hint


class WdsBadAnswer(WdsError):
    """A 2xx answer whose body is not the documented JSON, still so after every retry."""

    hint = (
        "something other than WDS answered (a login page, a proxy's error page) or the "
        "answer was cut short; check that WDS_API_URL reaches the WDS server itself"
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
