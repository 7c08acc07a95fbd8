"""Jobs and download tasks of the WDS emulator.

A job is a named set of tasks, one per page URL.  A task id is derived from the
job name and the URL, so the same URL in the same job always gets the same
task: crawl answers a URL the job already knows with its existing task (it
appears again in crawl results, with the same id), and starting a job again
keeps the ids of its tasks.  Every new task downloads its page at once, in the
background; task endpoints then answer 202 until the page is there.
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

    @property
    def waiting_state(self) -> str:
        """The state info shows while the page is not there yet."""
        return IN_PROGRESS if self.download_started else CREATED


@dataclass(eq=False)
class Job:
    name: str
    settings: JobSettings
    tasks: dict[str, Task] = field(default_factory=dict)  # by URL


def task_id(job_name: str, url: str) -> str:
    return hashlib.sha1(f"{job_name}\n{url}".encode()).hexdigest()[:24]


class TaskBook:
    """Every job and task the emulator knows; lives on the emulator's loop."""

    def __init__(self, fetcher: PageFetcher) -> None:
        self._fetcher = fetcher
        self.jobs: dict[str, Job] = {}
        self.tasks: dict[str, Task] = {}

    def get(self, id_: str) -> Task | None:
        return self.tasks.get(id_)

    def start_job(self, name: str, settings: JobSettings) -> list[Task]:
        """Create or update the job; one task per start URL, in order."""
        job = self.jobs.get(name)
        if job is None:
            job = self.jobs[name] = Job(name, settings)
        else:
            job.settings = settings
            if settings.restart_from_scratch:
                for task in job.tasks.values():
                    self._download(task)
        return [self.task_for(job, url) for url in settings.start_urls]

    def task_for(self, job: Job, url: str) -> Task:
        task = job.tasks.get(url)
        if task is None:
            loop = asyncio.get_running_loop()
            task = Task(task_id(job.name, url), url, job, created=loop.time())
            job.tasks[url] = self.tasks[task.id] = task
            self._download(task)
        return task

    def follow(self, task: Task, links: Iterable[str], base_url: str) -> list[Task]:
        """Tasks for the links found on a task's page, on the job's domains, once each."""
        found: dict[str, Task] = {}
        hosts = task.job.settings.hosts
        for link in links:
            url = normalize_url(link, base_url)
            if url is None or url in found or not _on_domains(url, hosts):
                continue
            found[url] = self.task_for(task.job, url)
        return list(found.values())

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
