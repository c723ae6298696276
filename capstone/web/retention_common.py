"""What the retention pages share: the service call in a worker thread (closed afterwards) and a
posted form with its CSRF token checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from capstone.retention.service import RetentionService
from capstone.web.context import context_of
from capstone.web.pages import check_csrf, signed_in

T = TypeVar("T")


@contextmanager
def _service(request: Request) -> Iterator[RetentionService]:
    service = context_of(request).retention(signed_in(request))
    try:
        yield service
    finally:
        service.close()


async def service_call(request: Request, action: Callable[[RetentionService], T]) -> T:
    """The service call in a worker thread (it reads the vault), the service closed afterwards."""

    def work() -> T:
        with _service(request) as service:
            return action(service)

    return await run_in_threadpool(work)


async def posted_form(request: Request) -> dict[str, str]:
    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.pop("csrf", ""))
    signed_in(request)
    return form
