"""A local WDS (Web Data Source) API that really crawls and scrapes pages.

``WdsEmulator`` serves the WDS v2 task API on loopback: it
downloads each task's page itself (honouring robots.txt), runs ``CSS:`` and
``XPATH:`` selectors on it with parsel, and answers in whichever reading of
the documentation its switches choose (key casing, enum encoding, state field
name, how long tasks answer 202), with injected faults on demand.  See
``docs/emulator-wds.md`` for every switch and the decisions it embodies.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin

from aiohttp import web

from scrapy_wds.testing._server import EmulatorServer, drop_connection, json_body, text_error
from scrapy_wds.testing._wds_jobconfig import JobConfigProblem, parse_job_config
from scrapy_wds.testing._wds_malformed import malformed_answer, pick_form
from scrapy_wds.testing._wds_pages import HANDLED, ContentProblem, Page, PageFetcher
from scrapy_wds.testing._wds_scrape import (
    ParamsProblem,
    ScrapeRequest,
    crawl_request,
    multiple_from_body,
    multiple_from_query,
    scrape_request,
)
from scrapy_wds.testing._wds_selectors import SelectorProblem, extract_values
from scrapy_wds.testing._wds_switches import cased, check_switches, encoded_state
from scrapy_wds.testing._wds_tasks import Task, TaskBook

API = "/api/v2"

_INJECTED_REASONS = {
    400: "invalid parameters for the task of {url} (injected)",
    403: "access to {url} was denied (injected)",
    404: "task {id} not found (injected)",
    422: "the content of {url} could not be processed (injected)",
}


class WdsEmulator(EmulatorServer):
    """The WDS v2 API on loopback; switches are documented in docs/emulator-wds.md."""

    switch_names = (
        "key_case",
        "enum_style",
        "state_field",
        "pending_info",
        "known_pages",
        "malformed",
        "malformed_rate",
        "malformed_tasks",
        "pending_polls",
        "pending_seconds",
        "error_rate",
        "drop_rate",
        "fail_tasks",
        "seed",
        "error_delay",
        "download_wait",
    )

    def __init__(
        self,
        *,
        key_case: str = "pascal",
        enum_style: str = "name",
        state_field: str = "TaskState",
        pending_info: str = "200",
        known_pages: str = "same",
        malformed: str = "truncated",
        malformed_rate: float = 0.0,
        malformed_tasks: list[str] | None = None,
        pending_polls: int = 0,
        pending_seconds: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        fail_tasks: dict[str, int] | None = None,
        seed: int = 0,
        error_delay: float = 0.0,
        download_wait: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.key_case = key_case
        self.enum_style = enum_style
        self.state_field = state_field
        self.pending_info = pending_info
        self.known_pages = known_pages
        self.malformed = malformed
        self.malformed_rate = malformed_rate
        self.malformed_tasks: list[str] = list(malformed_tasks or [])
        self.pending_polls = pending_polls
        self.pending_seconds = pending_seconds
        self.error_rate = error_rate
        self.drop_rate = drop_rate
        self.fail_tasks: dict[str, int] = dict(fail_tasks or {})
        self.seed = seed
        self.error_delay = error_delay
        self.download_wait = download_wait
        check_switches(self.switches())
        self._fetcher = PageFetcher()
        self._book = TaskBook(self._fetcher)

    # -- switches and state ----------------------------------------------

    @property
    def seed(self) -> int:
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        # Setting the seed restarts the draws, so a test's faults are reproducible.
        self._seed = value
        self._rng = random.Random(self._seed)
        # Its own draws, so turning malformed answers on leaves the 503s and drops where they were.
        self._malformed_rng = random.Random(f"malformed {self._seed}")

    def configure(self, **switches: Any) -> dict[str, Any]:
        unknown = set(switches) - set(self.switch_names)
        if not unknown:
            check_switches({**self.switches(), **switches})
        return super().configure(**switches)

    def reset_state(self) -> None:
        self.call_on_loop(self._book.forget)  # it cancels downloads running there
        self.seed = self._seed

    async def on_started(self) -> None:
        await self._fetcher.open()

    async def on_stopping(self) -> None:
        self._book.forget()
        await self._fetcher.close()

    # -- routes ----------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._health)
        app.router.add_post(API + "/jobs/{job_name}/start", self._delayed(self._start))
        tasks = API + "/tasks/{task_id}"
        app.router.add_get(tasks + "/crawl", self._task_call(crawl_request, self._crawl))
        app.router.add_get(tasks + "/scrape", self._task_call(scrape_request, self._scrape))
        app.router.add_get(
            tasks + "/scrape-multiple", self._task_call(multiple_from_query, self._scrape_multiple)
        )
        app.router.add_post(
            tasks + "/scrape-multiple", self._task_call(multiple_from_body, self._scrape_multiple)
        )
        app.router.add_get(tasks + "/info", self._delayed(self._spoiling(self._info)))

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="Healthy", content_type="text/plain")

    def _delayed(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Hold error answers for ``error_delay`` seconds, as the real server does."""

        async def answer(request: web.Request) -> web.Response:
            response = await handler(request)
            if response.status >= 400 and self.error_delay > 0:
                await asyncio.sleep(self.error_delay)
            return response

        return answer

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return json_body(cased(data, self.key_case), status=status)

    # -- start -----------------------------------------------------------

    async def _start(self, request: web.Request) -> web.Response:
        try:
            config = json.loads(await request.read() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return text_error(400, "the body must be a JobConfig JSON object; it is not valid JSON")
        try:
            settings = parse_job_config(config)
        except JobConfigProblem as exc:
            return text_error(400, f"invalid JobConfig: {exc}")
        tasks = self._book.start_job(request.match_info["job_name"], settings, self.known_pages)
        return self._json([{"Id": task.id, "Url": task.url} for task in tasks])

    # -- task endpoints --------------------------------------------------

    def _task_call(
        self,
        read_params: Callable[[web.Request], Awaitable[ScrapeRequest]],
        answer: Callable[[web.Request, Task, Page, ScrapeRequest], web.Response],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The order every crawl/scrape call goes through, from faults to the answer."""

        async def handle(request: web.Request) -> web.Response:
            task, refusal = self._find_task(request)
            if refusal is not None:
                return refusal
            assert task is not None
            try:
                params = await read_params(request)
            except (ParamsProblem, SelectorProblem) as exc:
                return text_error(400, str(exc))
            if not await self._ready(task):
                self.note_call(request, pending=True)
                return web.Response(status=202)
            assert task.page is not None
            if task.page.state != HANDLED:
                return text_error(403, task.page.error or task.page.state)
            try:
                return answer(request, task, task.page, params)
            except ContentProblem as exc:
                return text_error(422, str(exc))
            except SelectorProblem as exc:
                return text_error(400, str(exc))

        return self._delayed(self._spoiling(handle))

    def _spoiling(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Turn a task call's 200 into a malformed one, as the malformed switches say."""

        async def answer(request: web.Request) -> web.Response:
            response = await handler(request)
            task = self._book.get(request.match_info["task_id"])
            if response.status != 200 or task is None or not self._spoils(task):
                return response
            form = pick_form(self.malformed, self._malformed_rng)
            self.note_call(request, malformed=form)
            return malformed_answer(form, response, self._json)

        return answer

    def _spoils(self, task: Task) -> bool:
        if any(re.search(pattern, task.url) for pattern in self.malformed_tasks):
            return True
        # Drawn only when asked for, so the default leaves the draws untouched.
        return self.malformed_rate > 0 and self._malformed_rng.random() < self.malformed_rate

    def _find_task(self, request: web.Request) -> tuple[Task | None, web.Response | None]:
        """The task a call is about, or the answer that refuses the call."""
        if self._rng.random() < self.drop_rate:
            raise drop_connection(request)
        if self._rng.random() < self.error_rate:
            return None, text_error(503, "service unavailable (injected fault); try again later")
        task_id = request.match_info["task_id"]
        task = self._book.get(task_id)
        if task is None:
            return None, text_error(404, f"task {task_id!r} not found")
        for pattern, status in self.fail_tasks.items():
            if re.search(pattern, task.url):
                reason = _INJECTED_REASONS.get(status, "task of {url} failed (injected)")
                return None, text_error(status, reason.format(url=task.url, id=task.id))
        return task, None

    async def _ready(self, task: Task) -> bool:
        """True when the task may answer for real; counts the pending answers it gave."""
        loop = asyncio.get_running_loop()
        waited_enough = (
            task.pending_answers >= self.pending_polls
            and loop.time() - task.created >= self.pending_seconds
        )
        if waited_enough:
            # A short wait for a page still downloading keeps 202 counts exact in tests.
            await self._book.wait_for_page(task, self.download_wait)
            if task.page is not None:
                return True
        task.pending_answers += 1
        return False

    def _crawl(
        self, request: web.Request, task: Task, page: Page, params: ScrapeRequest
    ) -> web.Response:
        (wanted,) = params.fields
        document = page.document()
        links = extract_values(wanted.selector.select(document), wanted.attribute_name)
        # Relative links resolve like a browser does: against <base href> if any.
        base_url = page.url
        base = document.xpath("//base/@href").get()
        if base:
            try:
                base_url = urljoin(page.url, base.strip())
            except ValueError:  # a malformed <base href> is ignored, as browsers do
                pass
        found, known = self._book.follow(task, links, base_url, self.known_pages)
        self.note_call(request, known_pages=known)
        return self._json([{"Id": found_task.id, "Url": found_task.url} for found_task in found])

    def _scrape(
        self, request: web.Request, task: Task, page: Page, params: ScrapeRequest
    ) -> web.Response:
        (wanted,) = params.fields
        found = wanted.selector.select(page.document())
        return self._json(extract_values(found, wanted.attribute_name))

    def _scrape_multiple(
        self, request: web.Request, task: Task, page: Page, params: ScrapeRequest
    ) -> web.Response:
        document = page.document()
        results = []
        for wanted in params.fields:
            values = extract_values(wanted.selector.select(document), wanted.attribute_name)
            results.append({"Name": wanted.name, "Values": values})
        return self._json(results)

    # -- info ------------------------------------------------------------

    async def _info(self, request: web.Request) -> web.Response:
        task, refusal = self._find_task(request)
        if refusal is not None:
            return refusal
        assert task is not None
        if not await self._ready(task):
            # The docs list only 200 for info, a waiting task showing Created or
            # InProgress; "202" plays the servers that answer it like crawl/scrape.
            self.note_call(request, pending=True)
            status = 202 if self.pending_info == "202" else 200
            return self._json(self._status(task.waiting_state, None), status=status)
        assert task.page is not None
        return self._json(self._status(task.page.state, task.page))

    def _status(self, state: str, page: Page | None) -> dict[str, Any]:
        return {
            self.state_field: encoded_state(state, self.enum_style),
            "Error": page.error if page is not None else None,
            "Result": page.result if page is not None else None,
            "IntermedResults": page.intermediate if page is not None else [],
        }
