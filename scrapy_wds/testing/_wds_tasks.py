"""Jobs and download tasks of the WDS emulator.

A job is a named set of tasks, one per page URL.  A task id is derived from the
job name and the URL, so the same URL in the same job always gets the same
task.  What crawl answers for a URL the job already knows is the
``known_pages`` switch: its existing task (``same``: it appears again in crawl
results with the same id, and starting a job again keeps the ids of its
tasks), a fresh task each time (``new``), or nothing (``omit``).  Every new
task downloads its page at once, in the background; task endpoints then
answer 202 until the page is there.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scrapy_wds.testing._wds_jobconfig import JobSettings, normalize_url
from scrapy_wds.testing._wds_pages import ALL_REQUEST_GATES_EXHAUSTED, Page, PageFetcher

CREATED = "Created"
IN_PROGRESS = "InProgress"

#: What crawl answers for a page the job already has (see the module's docstring).
KNOWN_PAGES = ("same", "new", "omit")


def _on_domains(url: str, hosts: set[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


@dataclass(eq=False)
class Task:
    id: str
    url: str
    job: Job
    created: float  # loop time
    pending_answers: int = 0  # 202s, and 200s of a waiting info (pending_info)
    download_started: bool = False
    page: Page | None = None
    download: asyncio.Future[None] | None = None
    # URLs this task's crawl brought to the job first: a repeated crawl of the
    # task (a retry after a lost answer) answers them as it did the first time.
    introduced: set[str] = field(default_factory=set)

    @property
    def waiting_state(self) -> str:
        """The state info shows while the page is not there yet."""
        return IN_PROGRESS if self.download_started else CREATED


@dataclass(eq=False)
class Job:
    name: str
    settings: JobSettings
    tasks: dict[str, Task] = field(default_factory=dict)  # by URL, the first task of each
    again: list[Task] = field(
        default_factory=list
    )  # fresh tasks for known URLs (known_pages "new")


def task_id(job_name: str, url: str, again: int = 0) -> str:
    """The id of a URL's task in a job; ``again`` counts fresh tasks made for it."""
    key = f"{job_name}\n{url}" + (f"\n{again}" if again else "")
    return hashlib.sha1(key.encode()).hexdigest()[:24]


class TaskBook:
    """Every job and task the emulator knows; lives on the emulator's loop."""

    def __init__(self, fetcher: PageFetcher) -> None:
        self._fetcher = fetcher
        self.jobs: dict[str, Job] = {}
        self.tasks: dict[str, Task] = {}

    def get(self, id_: str) -> Task | None:
        return self.tasks.get(id_)

    def start_job(self, name: str, settings: JobSettings, known_pages: str = "same") -> list[Task]:
        """Create or update the job; one task per start URL, in order.

        A start URL the job already has gets its existing task, or a fresh one
        with ``known_pages="new"``; start never leaves a start URL out.
        """
        job = self.jobs.get(name)
        if job is None:
            job = self.jobs[name] = Job(name, settings)
        else:
            job.settings = settings
            if settings.restart_from_scratch:
                for task in [*job.tasks.values(), *job.again]:
                    self._download(task)
        fresh = "new" if known_pages == "new" else "same"
        answered: dict[str, Task] = {}
        for url in settings.start_urls:
            if url not in answered:
                started, _ = self._known_or_new(job, url, fresh)
                assert started is not None  # only "omit" leaves a page out
                answered[url] = started
        return [answered[url] for url in settings.start_urls]

    def follow(
        self, task: Task, links: Iterable[str], base_url: str, known_pages: str = "same"
    ) -> tuple[list[Task], int]:
        """Tasks for the links found on a task's page, on the job's domains, once each.

        Also says how many of the links were pages the job already had, however
        ``known_pages`` answered them.
        """
        found: dict[str, Task | None] = {}
        hosts = task.job.settings.hosts
        known = 0
        for link in links:
            url = normalize_url(link, base_url)
            if url is None or url in found or not _on_domains(url, hosts):
                continue
            if url in task.introduced:  # new to the job on this task's first crawl
                found[url] = task.job.tasks[url]
                continue
            found[url], was_known = self._known_or_new(task.job, url, known_pages)
            if was_known:
                known += 1
            else:
                task.introduced.add(url)
        return [found_task for found_task in found.values() if found_task is not None], known

    def _known_or_new(self, job: Job, url: str, known_pages: str) -> tuple[Task | None, bool]:
        """The task to answer for ``url`` (None: leave it out), and whether the job knew it."""
        task = job.tasks.get(url)
        if task is None:
            task = job.tasks[url] = self._new_task(job, url, task_id(job.name, url))
            return task, False
        if known_pages == "omit":
            return None, True
        if known_pages == "new":
            fresh = self._new_task(job, url, task_id(job.name, url, len(job.again) + 1))
            job.again.append(fresh)
            return fresh, True
        return task, True

    def _new_task(self, job: Job, url: str, id_: str) -> Task:
        task = Task(id_, url, job, created=asyncio.get_running_loop().time())
        self.tasks[task.id] = task
        self._download(task)
        return task

    async def wait_for_page(self, task: Task, timeout: float) -> None:
        download = task.download
        if task.page is not None or download is None or timeout <= 0:
            return
        try:
            await asyncio.wait_for(asyncio.shield(download), timeout)
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            if not download.cancelled():  # this call itself was cancelled
                raise

    def forget(self) -> None:
        for task in self.tasks.values():
            if task.download is not None:
                task.download.cancel()
        self.jobs.clear()
        self.tasks.clear()
        self._fetcher.forget()

    def _download(self, task: Task) -> None:
        if task.download is not None:
            task.download.cancel()
        task.page = None
        task.download_started = False
        task.download = asyncio.ensure_future(self._fetch(task))

    async def _fetch(self, task: Task) -> None:
        def started() -> None:
            task.download_started = True

        try:
            page = await self._fetcher.fetch(task.url, task.job.settings, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a task must never wait forever on an emulator bug
            page = Page(ALL_REQUEST_GATES_EXHAUSTED, task.url, error=f"download failed: {exc!r}")
        task.page = page
