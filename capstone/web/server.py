"""Running the web application: in the foreground (``capstone serve``) or in a thread (tests, the
demo), on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from capstone.logging import get_logger
from capstone.settings import Settings
from capstone.web.app import create_app
from capstone.web.config import WebSettings


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def secure_cookies_for(host: str, web: WebSettings) -> bool:
    """Cookies are ``Secure`` (https only), except on a loopback address when allowed (tests, demo)."""
    return not (is_loopback(host) and web.insecure_loopback_http)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _config(settings: Settings, web: WebSettings, host: str, port: int) -> uvicorn.Config:
    app = create_app(settings, web, secure_cookies=secure_cookies_for(host, web))
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                          proxy_headers=True)  # fmt: skip


class WorkersError(ValueError):
    """More than one worker process without a shared session secret."""


_HOST_ENV = "CAPSTONE_WEB__SERVE_HOST"  # set by serve() for its worker processes only


def check_workers(web: WebSettings, workers: int) -> None:
    """Several worker processes must sign session cookies with one secret, or a session made by one
    is refused by the others (each would draw its own random secret)."""
    if workers > 1 and "session_secret" not in web.model_fields_set:
        raise WorkersError(
            f"--workers {workers} needs CAPSTONE_WEB_SESSION_SECRET: every worker process must sign the "
            "session cookies with the same secret (set it to a long random string, e.g. "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )


def serve(settings: Settings, web: WebSettings, *, host: str, port: int, workers: int = 1) -> None:
    """Serve in the foreground. ``workers`` > 1: that many uvicorn worker processes on one socket,
    each building the application from the same environment (``CAPSTONE_*``, ``CAPSTONE_WEB_*``);
    they share the state database (sessions are cookies, jobs live in ``web_jobs``)."""
    check_workers(web, workers)
    log = get_logger("capstone.web")
    if workers <= 1:
        sock = _bind(host, port)
        actual = sock.getsockname()[1]
        log.info("web_serving", url=f"http://{host}:{actual}", secure_cookies=secure_cookies_for(host, web))
        uvicorn.Server(_config(settings, web, host, actual)).run(sockets=[sock])
        return
    from capstone.services import state_engine

    state_engine(settings).dispose()  # migrated once here, not by N workers at the same moment
    # The workers read their settings from the environment: put this command's own there too.
    os.environ["CAPSTONE_HOME"] = str(settings.home)
    for name, value in (("CAPSTONE_VAULT", settings.vault), ("CAPSTONE_DB_URL", settings.db_url)):
        if value:
            os.environ[name] = value
    os.environ["CAPSTONE_LOG_LEVEL"] = settings.log_level
    os.environ[_HOST_ENV] = host
    log.info(
        "web_serving",
        url=f"http://{host}:{port}",
        workers=workers,
        secure_cookies=secure_cookies_for(host, web),
    )
    uvicorn.run("capstone.web.server:worker_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, lifespan="off", proxy_headers=True)  # fmt: skip


def worker_app() -> ASGIApp:
    """The application of one worker process of ``capstone serve --workers N``."""
    from capstone.logging import configure_logging
    from capstone.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    web = WebSettings()
    return create_app(settings, web, secure_cookies=secure_cookies_for(os.environ.get(_HOST_ENV, ""), web))


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@contextlib.contextmanager
def run_web(settings: Settings, web: WebSettings, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve in a background thread; yields the base URL."""
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    server = _ThreadedServer(_config(settings, web, host, actual))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="capstone-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web application did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{actual}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
