"""One EWS endpoint and service account: exchangelib accounts per mailbox, Exchange's throttling
honoured, every failure mapped to the connector's error types.

exchangelib is synchronous (requests); its calls run in this connection's own worker threads,
never on the event loop. Per mailbox at most ``max_concurrency`` requests are in flight
(``EWSMaxConcurrency``, 10 by default: with impersonation the impersonated mailbox's budget is the
one charged). exchangelib runs with its fail-fast policy, so that retries happen here, where they
can be seen and bounded:

- ``ErrorServerBusy``: wait the server's ``BackOffMilliseconds`` (the whole mailbox waits, not
  only the request that was refused), then retry;
- ``ErrorExceededConnectionCount`` / ``ErrorTooManyObjectsOpened`` and transient failures (5xx,
  resets, truncated responses): exponential back-off with full jitter;
- at most ``retry_attempts`` tries and ``retry_max_wait`` seconds of back-off per request.

The per-mailbox limit adapts: an ``ErrorServerBusy`` lowers it to the requests still in flight
(the server evidently allows no more), and every ``_RAISE_AFTER`` successes raise it by one again
up to ``max_concurrency`` — so a server configured below our limit costs a few refusals, not a
storm of them that exhausts the retries.

exchangelib logs request headers (the ``Authorization`` header among them) and whole responses at
DEBUG: its loggers are kept at INFO or above, so neither the secret nor message content is logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib.errors import SessionPoolMinSizeReached
from exchangelib.protocol import Protocol
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_random_exponential

from capstone.logging import get_logger
from connectors.ews.config import EwsConfig
from connectors.ews.errors import back_off_of, code_of, is_throttling, is_transient, to_source_error

log = get_logger("connectors.ews")
T = TypeVar("T")
_EXHAUSTED = object()
_RAISE_AFTER = 32  # successful requests before an adaptive per-mailbox limit grows by one


class _ConsumerFailed(Exception):
    """What a stream's consumer raised, kept apart from the stream's own failures."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _drain(
    first: Any, blocks: Iterator[bytes], consume: Callable[[bytes], None], stop: threading.Event
) -> int:
    """In a worker thread: ``first`` and the rest of ``blocks`` into ``consume``; the bytes."""
    size = 0
    block = first
    while block is not _EXHAUSTED and not stop.is_set():
        try:
            consume(block)
        except Exception as exc:
            raise _ConsumerFailed(exc) from exc
        size += len(block)
        block = next(blocks, _EXHAUSTED)
    return size


class _AdaptiveSlot:
    """A semaphore whose limit can be lowered and raised while requests hold it."""

    def __init__(self, limit: int) -> None:
        self.ceiling = limit
        self.limit = limit
        self.used = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        while self.used >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
        self.used += 1

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.used
        for waiter in list(self._waiters):
            if free <= 0:
                break
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def lower(self, allowed: int) -> None:
        self.limit = max(1, min(self.limit, allowed))
        self._successes = 0

    def succeeded(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._successes += 1
        if self._successes >= _RAISE_AFTER:
            self._successes = 0
            self.limit += 1
            self._wake()


def quiet_exchangelib() -> None:
    """exchangelib's DEBUG records carry request headers and response bodies: never emit them."""
    for name in ("exchangelib", "requests_ntlm", "spnego"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def _keep_pool_size() -> None:
    """In place of ``Protocol.decrease_poolsize``: the pool keeps its size (see ``account``)."""
    raise SessionPoolMinSizeReached("Capstone keeps the session pool size; it adapts per mailbox")


class _TokenUrlCredentials(OAuth2Credentials):  # type: ignore[misc]
    """Client credentials whose token endpoint is configured (exchangelib assumes Entra ID's)."""

    def __init__(self, *args: Any, token_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token_url = token_url

    @property
    def token_url(self) -> str:
        return self._token_url


@dataclass
class EwsStats:
    """What the connection did: requests per operation, throttling met and back-offs honoured."""

    operations: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)  # by EWS response code
    transient: dict[str, int] = field(default_factory=dict)
    back_offs: list[float] = field(default_factory=list)  # server-suggested waits that were honoured
    retries: int = 0
    peak_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, bucket: dict[str, int], key: str) -> None:
        with self._lock:
            bucket[key] = bucket.get(key, 0) + 1


@dataclass
class MailboxStats:
    """Requests for one mailbox (primary and archive together), by operation, and waits."""

    operations: dict[str, int] = field(default_factory=dict)
    wait_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.operations.values())


class EwsConnection:
    def __init__(self, config: EwsConfig) -> None:
        quiet_exchangelib()
        self.config = config
        self.stats = EwsStats()
        # Requests and MIME streams in flight over all mailboxes: each holds one of exchangelib's
        # pooled sessions (a stream for as long as it is read), and no worker thread ever waits for a
        # session, so a stream waiting for a thread to read its next block cannot be starved. As many
        # threads as sessions: a stream drained into its consumer (stream_into) holds one throughout.
        self.sessions = max(4, config.max_concurrency * 2)
        self._session_gate: asyncio.Semaphore | None = None
        self._executor = ThreadPoolExecutor(max_workers=self.sessions, thread_name_prefix="capstone-ews")
        self._accounts: dict[str, Account] = {}
        self._accounts_lock = threading.Lock()
        self._slots: dict[str, _AdaptiveSlot] = {}
        self._in_flight: dict[str, int] = {}
        self._back_off_until: dict[str, float] = {}
        self._shared: Configuration | None = None
        self._configurations: list[Configuration] = []
        self._token = uuid.uuid4().hex
        self.by_mailbox: dict[str, MailboxStats] = {}
        log.info("ews_connection", **config.describe())

    # -- exchangelib ------------------------------------------------------------------------------

    def _version(self) -> Version:
        return Version(build=Build(*self.config.server_build))

    def _credentials(self, address: str) -> Any:
        credentials = self._new_credentials(address)
        # exchangelib caches one Protocol (session pool, auth type, retry policy) per endpoint and
        # equal credentials, process-wide: this connection's own marker keeps its protocol its own.
        credentials.capstone_connection = self._token
        return credentials

    def _new_credentials(self, address: str) -> Any:
        cfg = self.config
        if cfg.auth == "oauth":
            kwargs: dict[str, Any] = {
                "client_id": cfg.oauth_client_id,
                "client_secret": cfg.secret.reveal(),
                "tenant_id": cfg.oauth_tenant_id,
                "identity": Identity(primary_smtp_address=address) if cfg.impersonation else None,
            }
            if cfg.oauth_token_url:
                return _TokenUrlCredentials(token_url=cfg.oauth_token_url, **kwargs)
            return OAuth2Credentials(**kwargs)
        return Credentials(cfg.username, cfg.secret.reveal())

    def _configuration(self, address: str) -> Configuration:
        cfg = self.config
        if cfg.auth != "oauth" and self._shared is not None:
            return self._shared  # one protocol (session pool) for the service account
        configuration = Configuration(
            service_endpoint=cfg.service_endpoint,
            credentials=self._credentials(address),
            auth_type={"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}[cfg.auth],
            version=self._version(),
            retry_policy=FailFast(),
            max_connections=self.sessions,
        )
        if cfg.auth != "oauth":
            self._shared = configuration
        self._configurations.append(configuration)
        return configuration

    def account(self, address: str) -> Account:
        """The exchangelib account of a mailbox (made once; no request is sent for it)."""
        key = address.lower()
        with self._accounts_lock:
            account = self._accounts.get(key)
            if account is None:
                access = IMPERSONATION if self.config.impersonation else DELEGATE
                if self.config.autodiscover and not self.config.service_endpoint:
                    account = Account(
                        address,
                        credentials=self._credentials(address),
                        autodiscover=True,
                        access_type=access,
                    )
                else:
                    account = Account(
                        address, config=self._configuration(address), autodiscover=False, access_type=access
                    )
                account.protocol.TIMEOUT = self.config.timeout
                # exchangelib gives an ErrorServerBusy without the server's BackOffMilliseconds a
                # back-off of its own (RETRY_WAIT, 10 s, doubling): zero marks it as none, so the
                # retries here use their jittered back-off instead.
                account.protocol.RETRY_WAIT = 0
                # exchangelib shrinks its session pool for good at each ErrorServerBusy, waiting
                # (holding its lock) for a session to come back: with MIME streams holding sessions
                # that stalls every worker thread. The per-mailbox limit adapts here instead.
                account.protocol.decrease_poolsize = _keep_pool_size
                self._accounts[key] = account
            return account

    # -- throttling ---------------------------------------------------------------------------------

    def mailbox_stats(self, address: str) -> MailboxStats:
        key = address.lower()
        stats = self.by_mailbox.get(key)
        if stats is None:
            stats = self.by_mailbox[key] = MailboxStats()
        return stats

    def _count(self, address: str, operation: str) -> None:
        self.stats.count(self.stats.operations, operation)
        self.stats.count(self.mailbox_stats(address).operations, operation)

    def _slot(self, address: str) -> _AdaptiveSlot:
        key = address.lower()
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _AdaptiveSlot(self.config.max_concurrency)
        return slot

    def mailbox_limit(self, address: str) -> int:
        """The mailbox's current (adaptive) limit of requests in flight."""
        return self._slot(address).limit

    @asynccontextmanager
    async def _request_slot(self, address: str) -> AsyncIterator[None]:
        await self._acquire(address)
        try:
            yield
        finally:
            self._release(address.lower())

    def _retrying(self, address: str) -> AsyncRetrying:
        cfg = self.config
        jitter = wait_random_exponential(multiplier=cfg.retry_base, max=60)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            suggested = back_off_of(exc) if exc is not None else None
            if suggested is not None:
                # the requests still in flight are what the server allows this mailbox at most
                self._slot(address).lower(self._in_flight.get(address.lower(), 0))
                self.stats.back_offs.append(suggested)
                self._back_off_until[address.lower()] = time.monotonic() + suggested
                self.mailbox_stats(address).wait_seconds += suggested
                return 0.0  # the slot waits until the mailbox's back-off has passed
            pause = float(jitter(state))
            self.mailbox_stats(address).wait_seconds += pause
            return pause

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if exc is None:
                return
            self.stats.retries += 1
            bucket = self.stats.throttled if is_throttling(exc) else self.stats.transient
            self.stats.count(bucket, code_of(exc))
            log.info("ews_retry", mailbox=address, error=code_of(exc), attempt=state.attempt_number)

        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(cfg.retry_attempts) | stop_after_delay(cfg.retry_max_wait),
            wait=wait,
            before_sleep=note,
            reraise=True,
        )

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def call(self, address: str, operation: str, what: str, fn: Callable[[Account], T]) -> T:
        """``fn(account)`` in a worker thread, under the mailbox's slot, retried; failures as the
        connector's error types. ``operation`` names the EWS operation in the statistics."""
        account = self.account(address)
        try:
            async for attempt in self._retrying(address):
                with attempt:
                    async with self._request_slot(address):
                        self._count(address, operation)
                        result = await self._run(lambda: fn(account))
                        self._slot(address).succeeded()
                        return result
        except Exception as exc:
            raise to_source_error(exc, what) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _open(
        self, address: str, operation: str, what: str, open_stream: Callable[[Account], Iterator[bytes]]
    ) -> tuple[Iterator[bytes], Any]:
        """``open_stream(account)`` and its first block (or ``_EXHAUSTED``), read in a worker thread
        under the mailbox's slot, which the caller releases once the stream ends. Failures before
        the first block are retried."""
        account = self.account(address)
        key = address.lower()
        blocks: Iterator[bytes] | None = None
        first: Any = _EXHAUSTED
        try:
            async for attempt in self._retrying(address):
                with attempt:
                    await self._acquire(address)
                    try:
                        self._count(address, operation)
                        candidate = open_stream(account)
                        first = await self._run(partial(next, candidate, _EXHAUSTED))
                    except BaseException:
                        self._release(key)
                        raise
                    blocks = candidate
                    self._slot(address).succeeded()
        except Exception as exc:
            raise to_source_error(exc, what) from exc
        assert blocks is not None
        return blocks, first

    async def _close(self, blocks: Iterator[bytes], key: str) -> None:
        close = getattr(blocks, "close", None)
        try:
            if close is not None:
                await self._run(close)
        finally:
            self._release(key)

    async def stream(
        self, address: str, operation: str, what: str, open_stream: Callable[[Account], Iterator[bytes]]
    ) -> AsyncIterator[bytes]:
        """The blocks of ``open_stream(account)``, read in a worker thread under the mailbox's slot
        (held until the stream ends). Failures before the first block are retried; later ones end
        the stream with a transient error (whatever was written must be discarded by the caller)."""
        blocks, first = await self._open(address, operation, what, open_stream)
        try:
            block = first
            while block is not _EXHAUSTED:
                yield block
                block = await self._run(partial(next, blocks, _EXHAUSTED))
        except Exception as exc:
            raise to_source_error(exc, what) from exc
        finally:
            await self._close(blocks, address.lower())

    async def stream_into(
        self,
        address: str,
        operation: str,
        what: str,
        open_stream: Callable[[Account], Iterator[bytes]],
        consume: Callable[[bytes], None],
    ) -> int:
        """Every block of ``open_stream(account)`` handed to ``consume`` in the worker thread that
        read it, under the mailbox's slot until the stream ends; the bytes consumed. So a large
        item's hashing and spooling never run on the event loop, and its blocks cost no round trip
        to it each. Failures before the first block are retried; a later one raises a transient
        error (the caller discards what ``consume`` took). What ``consume`` raises (a vault write
        failing) is raised as it is. Cancelled, the reading stops after the block at hand."""
        blocks, first = await self._open(address, operation, what, open_stream)
        stop = threading.Event()
        draining = asyncio.ensure_future(self._run(partial(_drain, first, blocks, consume, stop)))
        try:
            try:
                return await asyncio.shield(draining)
            except asyncio.CancelledError:
                stop.set()  # the thread must be done with the stream before it is closed
                with suppress(BaseException):
                    await draining
                raise
        except _ConsumerFailed as failed:
            raise failed.error from None
        except Exception as exc:
            raise to_source_error(exc, what) from exc
        finally:
            await self._close(blocks, address.lower())

    async def _acquire(self, address: str) -> None:
        key = address.lower()
        until = self._back_off_until.get(key, 0.0)
        while (pause := until - time.monotonic()) > 0:
            await asyncio.sleep(pause)
            until = self._back_off_until.get(key, 0.0)
        await self._slot(address).acquire()
        if self._session_gate is None:
            self._session_gate = asyncio.Semaphore(self.sessions)
        try:
            await self._session_gate.acquire()
        except BaseException:
            self._slots[key].release()
            raise
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self._in_flight[key])

    def _release(self, key: str) -> None:
        self._in_flight[key] -= 1
        assert self._session_gate is not None
        self._session_gate.release()
        self._slots[key].release()

    def close(self) -> None:
        with self._accounts_lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
        for account in accounts:
            try:
                account.protocol.close()
            except Exception:  # closing is best effort
                log.debug("ews_close_failed", mailbox=str(account.primary_smtp_address))
        for configuration in self._configurations:
            with suppress(KeyError):
                del Protocol[configuration]
        self._configurations.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
