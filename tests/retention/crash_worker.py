"""A retention run or a destruction that kills itself (SIGKILL, as ``kill -9``) at the Nth call of a
store method: ``python -m tests.retention.crash_worker run|destroy <method> <n> [list_id]``.

Settings come from the environment (CAPSTONE_*, AWS_*), as for the ``capstone`` command."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from capstone.access import Actor
from capstone.retention.service import RetentionService
from capstone.settings import load_settings
from vault.local import LocalStore
from vault.s3 import S3Store


def main() -> None:
    action, method, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = 0
    for cls in (S3Store, LocalStore):
        original = getattr(cls, method)

        def wrapper(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return _original(self, *args, **kwargs)

        setattr(cls, method, wrapper)
    settings = load_settings()
    service = RetentionService(settings, Actor(settings.user, frozenset({"archivist"})))
    if action == "run":
        service.run()
    else:
        service.destroy(sys.argv[4])
    sys.exit(0)


if __name__ == "__main__":
    main()
