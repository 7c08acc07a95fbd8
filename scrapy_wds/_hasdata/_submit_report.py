"""The ERROR line of a submit that may have created a job nobody knows the id of.

HasData has no endpoint to list jobs, so only the user can tell (from the
dashboard) whether the lost submit created a job.  The line names the job,
shows its input (values that look secret masked) and says what to check and
how to go on either way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from scrapy_wds._hasdata._client import HasDataApiError

logger = logging.getLogger(__name__)

MASK = "***"
#: Input fields named like a secret are masked wherever they appear.
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|cookie", re.IGNORECASE)
_INPUT_LIMIT = 400


def masked_input(value: Any, hidden: Iterable[str] = ()) -> str:
    """The job's input as JSON for a log line: secret-named fields and ``hidden`` values masked."""

    def mask(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: MASK if isinstance(k, str) and _SECRET_NAME.search(k) else mask(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [mask(v) for v in node]
        return node

    text = json.dumps(mask(value), ensure_ascii=False, default=str)
    for secret in hidden:
        if secret:
            text = text.replace(secret, MASK)
    return text if len(text) <= _INPUT_LIMIT else text[:_INPUT_LIMIT] + "…"


def report_uncertain_submit(
    runner: Any, exc: Exception, store: Any, *, hidden: Iterable[str]
) -> None:
    job = runner.job
    where = getattr(store, "path", "the state file")
    if isinstance(exc, HasDataApiError):
        what = f"its submit failed after it may have reached HasData ({exc})"
    else:
        what = "an earlier run sent its submit and never received the answer"
    logger.error(
        "HasData job %r (scraper %r, input %s): %s, so a job may exist and cost credits; "
        "it is not submitted again. Check your HasData dashboard for a %s job with this "
        'input: if there is one, put its id as "job_id" (and "submit_unconfirmed": false) '
        "in the entry %r of %s; if there is none, remove that entry. Or set "
        "HASDATA_RETRY_UNCERTAIN_SUBMITS = True to resend such submits (a second job may be paid)",
        job.key,
        job.scraper,
        masked_input(dict(job.input), hidden),
        what,
        job.scraper,
        job.key,
        where,
    )
