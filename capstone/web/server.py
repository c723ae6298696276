"""Running the web application: in the foreground (``capstone serve``) or in a thread (tests, the
demo), on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

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


def serve(settings: Settings, web: WebSettings, *, host: str, port: int) -> None:
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    get_logger("capstone.web").info(
        "web_serving", url=f"http://{host}:{actual}", secure_cookies=secure_cookies_for(host, web)
    )
    uvicorn.Server(_config(settings, web, host, actual)).run(sockets=[sock])


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
