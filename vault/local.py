"""Local-directory backend for the embedded default.

Same key layout and metadata as the S3 backend. A write goes to a temporary file in the vault's own
staging directory, is fsynced, made read-only and then *hard-linked* into place: ``link(2)`` fails
when the name exists, so an existing object is never replaced, and a crash leaves either the whole
object or nothing under its name.

An object's metadata (its SHA-256, size, media type, retention and legal hold, as S3 keeps them
beside an object) is an extended attribute of its own file, ``user.capstone.meta``: set on the
staged file before it is synced, so it is durable with the bytes and appears with them under the
key. A separate sidecar file per object (``.meta/<path>.json``) costs the file system a second
inode, directory entry and data block for every object: 70-270 us of kernel CPU per 25 kB object
on the 2-core test host, against 0-30 us for the attribute, and the bulk importers and the EWS
capture write tens of thousands of small objects. Where the file system takes no user extended
attributes, the store writes the sidecar instead, as it always did. A sidecar takes precedence over
the attribute: the retention lifecycle writes one when it extends a retention or sets a legal hold,
and stores made before kept all their metadata there. The metadata is derivable (the key names the
SHA-256, the provenance record the retention) and read leniently, so a copy of the directory that
drops extended attributes (``cp`` without ``-a``, ``rsync`` without ``-X``) loses no object; copy
a vault with them all the same.

The keys are those of every backend (``vault/layout.py``); where a key's file lies is this store's
own concern. A store made by this version says so in ``.layout`` and keeps a blob in one level of
256 directories, ``blobs/sha256/ab/<sha256>`` (a sidecar, if any, in ``.meta/blobs/sha256/ab/``): the
key's second level (``ab/cd/``, 65,536 directories) would cost a directory, and another for the
sidecar, for nearly every object of a vault's first hundred thousand, each new directory an inode
and a block for the file system to allocate, write and sync (``bench/import_bench.py``). A store
made before it has no ``.layout`` and keeps every object under its key, as it always did; both are
read and written alike.

A batch (:meth:`LocalStore.put_many`, the bulk importers' path) is one *group commit* instead of
an fsync per object: every object of the batch is written into staging without an fsync (its
write-back started at once with ``sync_file_range(2)``, a hint that makes nothing durable, and the
directories of its key, and of its sidecar where it needs one, made meanwhile, each once per
process), the whole batch is made durable at once (``syncfs(2)`` of the vault's file system; where
that is not available, an fsync of each file from a thread pool, so the journal commits them
together), only then are the objects hard-linked to their keys, and the new directory entries are
made durable the same way before :meth:`put_many` returns. So no object is ever visible under its key before its bytes are
durable: a crash leaves either whole objects or nothing under their names, as a single write does.

This backend is **not WORM-certified**: anyone with write access to the directory (root included)
can still alter or remove files. Production vaults use the S3 backend with Object Lock.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import errno
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from vault import layout
from vault.errors import VaultConflictError, VaultLockedError, VaultNotInitialisedError, VaultWriteError
from vault.store import BatchItem, ObjectInfo, PutResult, Retention, StoreCapabilities

NOT_WORM_NOTE = (
    "local directory backend: objects are read-only files but this is NOT WORM-certified storage; "
    "use an S3 store with Object Lock (compliance mode) for production"
)
OBJECT_MODE = 0o400  # read-only, and for the service account only, whatever the umask
DIR_MODE = 0o700

_META_DIR = ".meta"
_META_XATTR = "user.capstone.meta"  # an object's metadata, on its own file (see the module docstring)
# Errors that say the file system (or a policy on it) takes no user extended attributes: the store
# keeps its metadata in sidecars instead.
_NO_XATTRS = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES})
_STAGING_DIR = ".staging"
_LAYOUT_FILE = ".layout"
# Where files lie (see the module docstring): the key itself (stores made before .layout), or a
# blob in one level of directories.
KEY_LAYOUT = "capstone-local-store/1"
FLAT_BLOB_LAYOUT = "capstone-local-store/2"
_FLAT_BLOB_PATH = "blobs/sha256/{sha256:.2}/{sha256}"
_BLOB_DIR_END = len(layout.BLOB_PREFIX) + 3  # "blobs/sha256/ab/"
_CHUNK = 1 << 20
# Threads of a store's batches (shared by batches written at once): staging, linking and (without
# syncfs(2)) the fsyncs, so the journal commits those together. The system calls release the GIL,
# but each thread must take it back after every one: on 2 cores 4 threads wrote 13-48 % more
# messages/s than 8, in raw PUT and in the MBOX import alike (bench/import_bench.py, alternating).
_BATCH_THREADS = 4
_POOL_LOCK = threading.Lock()


def _write_error(action: str, key: str, exc: OSError) -> VaultWriteError:
    if exc.errno == errno.ENOSPC:
        cause = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        cause = "the vault directory is not writable (read-only or permission denied)"
    else:
        cause = exc.strerror or str(exc)
    return VaultWriteError(f"could not {action} {key!r}: {cause}; nothing was written")


class LocalStore:
    """A write-once object store in a local directory."""

    needs_md5 = False  # the MD5 the vault may pass is for S3's Content-MD5: unused here

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._root_str = str(self.root)  # the batch paths join strings: no Path made per object
        self.url = f"file://{self.root}"
        self._capabilities = StoreCapabilities(worm=False, notes=(NOT_WORM_NOTE,))
        self._pool: ThreadPoolExecutor | None = None
        # Directories known to exist (the vault never removes one): a batch makes each only once,
        # and their parents are not looked up again.
        self._dirs: set[str] = set()
        # Staged files' names: unique per process and store without a random draw per object.
        self._stage_token = os.urandom(8).hex()
        self._stage_numbers = itertools.count()
        self._layout: str | None = None  # read from the root on first use (see file_layout)
        # Whether the file system takes the metadata attribute: unknown until the first write, and
        # once False never True again (a batch's sidecars are written unless it is True).
        self._xattrs: bool | None = None
        self._xattrs_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> LocalStore:
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise ValueError(f"not a local vault URL (want file:///absolute/path): {url}")
        return cls(Path(unquote(parsed.path)))

    # -- lifecycle ---------------------------------------------------------------------------------

    def initialise(self) -> StoreCapabilities:
        try:
            new = not self.root.is_dir() or _empty(self.root)
            for sub in ("", _META_DIR, _STAGING_DIR):
                _mkdirs(self.root / sub)
            if new:
                self._write_layout()
        except OSError as exc:
            raise _write_error("create the vault directory", str(self.root), exc) from exc
        if not os.access(self.root, os.W_OK):
            raise VaultWriteError(f"the vault directory {self.root} is not writable")
        return self._capabilities

    def check(self) -> None:
        if not self.root.is_dir():
            raise VaultNotInitialisedError(f"no vault at {self.root}; run `capstone vault init` to create it")

    def use_capabilities(self, capabilities: StoreCapabilities) -> None:
        # The local store's capabilities are fixed; the descriptor cannot make it WORM.
        return None

    @property
    def capabilities(self) -> StoreCapabilities:
        return self._capabilities

    def staging_dir(self) -> Path:
        path = self.root / _STAGING_DIR
        if not path.is_dir():
            _mkdirs(path)
        return path

    # -- paths -------------------------------------------------------------------------------------

    @property
    def file_layout(self) -> str:
        """Where this store's files lie: ``FLAT_BLOB_LAYOUT`` for a store made with a ``.layout``,
        ``KEY_LAYOUT`` for one made before (or none yet: nothing to find there)."""
        if self._layout is not None:
            return self._layout
        try:
            text = (self.root / _LAYOUT_FILE).read_text("utf-8")
        except FileNotFoundError:
            if (self.root / layout.DESCRIPTOR_KEY).exists():
                self._layout = KEY_LAYOUT  # a vault made before .layout existed
            return KEY_LAYOUT  # no vault yet: not remembered (another process may make one)
        try:
            found = json.loads(text)["format"]
        except (ValueError, KeyError, TypeError):
            found = None
        if found not in (KEY_LAYOUT, FLAT_BLOB_LAYOUT):
            raise VaultNotInitialisedError(
                f"{self.root} uses a local store layout this version does not know ({_LAYOUT_FILE}: {text[:80]!r})"
            )
        self._layout = str(found)
        return self._layout

    def _write_layout(self) -> None:
        """Say, once and durably, that this new store keeps blobs flat (``O_EXCL``: a store made by
        two processes at once gets it from the first, and the second reads it back)."""
        path = self.root / _LAYOUT_FILE
        data = json.dumps({"format": FLAT_BLOB_LAYOUT, "blob": _FLAT_BLOB_PATH})
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        except FileExistsError:
            return
        try:
            _write_all(fd, data.encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.root)
        self._layout = FLAT_BLOB_LAYOUT

    def _relative(self, key: str) -> str:
        """The path of ``key``'s file below the root."""
        if key.startswith("/") or ".." in key.split("/") or key.startswith("."):
            raise ValueError(f"invalid vault key: {key!r}")
        if key.startswith(layout.BLOB_PREFIX) and self.file_layout == FLAT_BLOB_LAYOUT:
            sha256 = layout.sha_of_blob_key(key)
            if sha256 is not None:
                return _FLAT_BLOB_PATH.format(sha256=sha256)
        return key

    def _key_of(self, relative: str) -> str:
        """The key of the file at ``relative`` (the inverse of :meth:`_relative`)."""
        if relative.startswith(layout.BLOB_PREFIX) and self.file_layout == FLAT_BLOB_LAYOUT:
            sha256 = relative[_BLOB_DIR_END:]
            if relative == _FLAT_BLOB_PATH.format(sha256=sha256):
                with contextlib.suppress(ValueError):
                    return layout.blob_key(sha256)
        return relative

    def path_of(self, key: str) -> Path:
        """The file that holds ``key`` (for operators and tests; it need not exist)."""
        return self._path(key)

    def _path(self, key: str) -> Path:
        return self.root / self._relative(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / f"{self._relative(key)}.json"

    # -- reads -------------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        meta = self._read_meta(key)
        retain = meta.get("retain-until")
        return ObjectInfo(
            key=key,
            size=size,
            sha256=meta.get("sha256"),
            media_type=meta.get("media-type"),
            retain_until=datetime.fromisoformat(retain) if retain else None,
            metadata=meta,
            legal_hold=meta.get("legal-hold") == "ON",
        )

    def _read_meta(self, key: str) -> dict[str, str]:
        """The sidecar where there is one (it takes precedence), else the file's attribute; a
        missing or damaged one is no metadata."""
        try:
            text = self._meta_path(key).read_bytes()
        except FileNotFoundError:
            try:
                text = os.getxattr(self._path(key), _META_XATTR)
            except OSError:  # no attribute (ENODATA), none on this file system, no file
                return {}
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _set_meta_xattr(self, fd: int, meta: dict[str, str]) -> bool:
        """``meta`` as the attribute of the open staged file ``fd`` (writable: not yet made
        read-only); False where the file system takes no user extended attributes (remembered: the
        store then writes sidecars)."""
        if self._xattrs is False:
            return False
        try:
            os.setxattr(fd, _META_XATTR, json.dumps(meta, sort_keys=True).encode("utf-8"))
        except OSError as exc:
            if exc.errno not in _NO_XATTRS:
                raise
            with self._xattrs_lock:
                self._xattrs = False
            return False
        if self._xattrs is None:
            with self._xattrs_lock:
                if self._xattrs is None:
                    self._xattrs = True
        return True

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise KeyError(key) from None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        physical = prefix
        if prefix.startswith(layout.BLOB_PREFIX) and self.file_layout == FLAT_BLOB_LAYOUT:
            physical = prefix[:_BLOB_DIR_END]  # blobs/sha256/ab/cd/...: all in blobs/sha256/ab/
        base = self.root / physical
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):  # staged files, the store's .layout
                    continue
                path = Path(dirpath) / name
                key = self._key_of(path.relative_to(self.root).as_posix())
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        yield ObjectInfo(key=key, size=path.stat().st_size)

    # -- writes ------------------------------------------------------------------------------------

    def put_bytes(
        self, key: str, data: bytes, *, sha256: str, md5: bytes, media_type: str, retention: Retention
    ) -> PutResult:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise VaultWriteError(f"refusing to write {key!r}: the bytes do not match the given SHA-256")
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.staging_dir())
        except OSError as exc:
            raise _write_error("write", key, exc) from exc
        tmp = Path(tmp_name)
        meta = _meta(sha256, len(data), media_type, retention)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                in_xattr = self._set_meta_xattr(handle.fileno(), meta)
                os.fsync(handle.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _write_error("write", key, exc) from exc
        return self._commit(key, tmp, sha256=sha256, size=len(data), meta=meta, in_xattr=in_xattr)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        md5: bytes,
        size: int,
        media_type: str,
        retention: Retention,
    ) -> PutResult:
        path = Path(path)
        staging = self.staging_dir()
        if path.parent.resolve() != staging.resolve():
            # Not spooled on our file system: copy into staging first (the link must stay atomic).
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=staging)
            except OSError as exc:
                raise _write_error("write", key, exc) from exc
            os.close(fd)
            try:
                shutil.copyfile(path, tmp_name)
            except OSError as exc:
                Path(tmp_name).unlink(missing_ok=True)
                raise _write_error("write", key, exc) from exc
            path = Path(tmp_name)
        meta = _meta(sha256, size, media_type, retention)
        try:
            with open(path, "rb+") as handle:
                in_xattr = self._set_meta_xattr(handle.fileno(), meta)
                os.fsync(handle.fileno())
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise _write_error("write", key, exc) from exc
        return self._commit(key, path, sha256=sha256, size=size, meta=meta, in_xattr=in_xattr)

    def _commit(
        self, key: str, tmp: Path, *, sha256: str, size: int, meta: dict[str, str], in_xattr: bool
    ) -> PutResult:
        final = self._path(key)
        try:
            os.chmod(tmp, OBJECT_MODE)
            _make_dirs_durably(final.parent, self.root)
            try:
                os.link(tmp, final)
                created = True
            except FileExistsError:
                created = False
            if created:
                _fsync_dir(final.parent)
        except OSError as exc:
            raise _write_error("write", key, exc) from exc
        finally:
            tmp.unlink(missing_ok=True)
        if not created:
            return self._existing(key, sha256, size)
        if not in_xattr:
            self._write_meta(key, meta)
        return PutResult(key=key, sha256=sha256, size=size, created=True)

    def _existing(self, key: str, sha256: str, size: int) -> PutResult:
        """An object already under ``key``: success if it holds these bytes, else a conflict."""
        existing = self.head(key)
        existing_sha = existing.sha256 if existing else None
        if existing_sha is None:
            existing_sha = _sha256_of_file(self._path(key))
        if existing_sha != sha256:
            raise VaultConflictError(
                f"{key!r} already holds different bytes (sha256 {existing_sha}); the vault never overwrites"
            )
        return PutResult(key=key, sha256=sha256, size=size, created=False)

    # -- group commit --------------------------------------------------------------------------------

    def put_many(self, items: Sequence[BatchItem]) -> builtins.list[PutResult]:
        """A batch as one group commit (see the module docstring); a result per item, in order,
        returned only once every object of the batch is durable under its key. The SHA-256 of each
        item is the vault's own hash of those very bytes (not re-checked here).

        On an error nothing of the batch that was not yet durable becomes visible: the staged
        files are removed and the error raised (objects already linked are whole and durable)."""
        first: dict[str, int] = {}  # key -> the index writing it (a key twice in a batch: once)
        for index, item in enumerate(items):
            first.setdefault(item.key, index)
        unique = [items[index] for index in sorted(first.values())]
        staging = str(self.staging_dir())
        pool = self._batch_pool()
        # One task per thread, each over its share of the batch (not a task per object: the
        # submitting thread holds the GIL for each task it hands out).
        shares = [unique[start::_BATCH_THREADS] for start in range(min(_BATCH_THREADS, len(unique)))]
        staged: list[tuple[BatchItem, str | None]] = []
        names: list[str] = []  # every staged file, also of a pass that failed half-way
        created_dirs: list[str] = []  # directories this batch created (durable with its syncs)
        try:
            try:
                # 0. Each object staged (not fsynced) with its directories made, or found already
                # under its key. The directories are empty until step 2: nothing is visible yet.
                futures = [
                    pool.submit(self._stage_share, staging, share, names, created_dirs) for share in shares
                ]
                wait(futures)  # every stage has ended (a failed one must not race the clean-up)
                by_share = [f.result() for f in futures]
                tmp_of = {item.key: tmp for share in by_share for item, tmp in share}
                staged = [(item, tmp_of[item.key]) for item in unique]
            except BaseException:
                for name in names:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name)
                raise
            # 1. The bytes of the whole batch, durable at once; nothing is visible under a key yet.
            self._make_durable([tmp for _, tmp in staged if tmp is not None], ())
            # 2. Into place (link(2) never replaces an existing name), with the sidecars.
            placed_shares = list(
                pool.map(self._place_share, [staged[start::_BATCH_THREADS] for start in range(len(shares))])
            )
            placed = [result for share in placed_shares for result in share]
            # 3. The new names and directories durable before the caller writes what refers to them
            # (also the names of objects found there: another writer may not have synced them yet).
            dirs = {os.path.dirname(self._path_str(item.key)) for item in unique}
            for _, more in placed:
                created_dirs.extend(more)
            dirs.update(os.path.dirname(d) for d in created_dirs)
            self._make_durable((), sorted(dirs))
        except OSError as exc:
            raise _write_error("write", f"a batch of {len(items)} objects", exc) from exc
        finally:
            for _, tmp in staged:
                if tmp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
        by_key = {result.key: result for result, _ in placed}
        return [
            by_key[item.key] if first[item.key] == index else replace_created(by_key[item.key])
            for index, item in enumerate(items)
        ]

    def _batch_pool(self) -> ThreadPoolExecutor:
        with _POOL_LOCK:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_BATCH_THREADS, thread_name_prefix="vault-batch")
            return self._pool

    def _path_str(self, key: str) -> str:
        return f"{self._root_str}/{self._relative(key)}"

    def _stage_share(
        self,
        staging: str,
        share: Sequence[BatchItem],
        names: builtins.list[str],
        created_dirs: builtins.list[str],
    ) -> builtins.list[tuple[BatchItem, str | None]]:
        """Stage a share of a batch: each object's directories (its key's, and its sidecar's where
        it needs one, made here while other threads write, so placing is a link), then the object.

        Every system call here releases and retakes the GIL, which other threads of a busy
        process may hold for a while: the fewer per object, the faster a batch (see
        ``bench/import_bench.py``). So a directory is made by ``mkdir`` first (not looked up,
        then made), and an object whose key directory this call has just made is not looked for:
        nothing can be in it, and should a concurrent writer link it first, ``link(2)`` says so."""
        root = str(self.root)
        staged: builtins.list[tuple[BatchItem, str | None]] = []
        for item in share:
            final = self._path_str(item.key)
            made = False
            directory = os.path.dirname(final)
            if directory not in self._dirs:
                created = _mkdir_p(directory, root, self._dirs)
                made = bool(created) and created[-1] == directory
                created_dirs.extend(created)
            # A visible object has durable bytes: every writer syncs before it links.
            if not made and os.path.exists(final):
                staged.append((item, None))
                continue
            if self._xattrs is False:  # the store writes sidecars: its directory too
                meta_directory = os.path.dirname(self._meta_path_str(item.key))
                if meta_directory not in self._dirs:
                    created_dirs.extend(_mkdir_p(meta_directory, root, self._dirs))
            staged.append((item, self._stage(staging, item, names)))
        return staged

    def _meta_path_str(self, key: str) -> str:
        return f"{self._root_str}/{_META_DIR}/{self._relative(key)}.json"

    def _stage(self, staging: str, item: BatchItem, names: builtins.list[str]) -> str | None:
        """``item`` in a new read-only file in staging, with its metadata attribute, not fsynced
        (its write-back started). Made writable for its owner, so the attribute can be set, and
        read-only before it is closed."""
        name = f"{staging}/.tmp-{item.sha256[:16]}-{self._stage_token}-{next(self._stage_numbers)}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        names.append(name)
        try:
            try:
                _write_all(fd, item.data)
                self._set_meta_xattr(fd, _meta(item.sha256, len(item.data), item.media_type, item.retention))
                os.fchmod(fd, OBJECT_MODE)
                _start_writeback(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise
        return name

    def _place_share(
        self, share: Sequence[tuple[BatchItem, str | None]]
    ) -> builtins.list[tuple[PutResult, builtins.list[str]]]:
        return [self._place(item, tmp) for item, tmp in share]

    def _place(self, item: BatchItem, tmp: str | None) -> tuple[PutResult, builtins.list[str]]:
        """Link a durable staged file to its key (creating its directories if staging did not),
        then its sidecar."""
        size = len(item.data)
        if tmp is None:
            return self._existing(item.key, item.sha256, size), []
        final = self._path_str(item.key)
        created_dirs: builtins.list[str] = []
        try:
            try:
                os.link(tmp, final)
            except FileNotFoundError:  # not made by staging (or removed since): made here, not cached
                created_dirs = _mkdir_p(os.path.dirname(final), str(self.root), None)
                os.link(tmp, final)
        except FileExistsError:
            return self._existing(item.key, item.sha256, size), created_dirs
        if self._xattrs is not True:  # True: every file staged so far has its attribute
            self._write_meta(item.key, _meta(item.sha256, size, item.media_type, item.retention))
        return PutResult(key=item.key, sha256=item.sha256, size=size, created=True), created_dirs

    def _make_durable(self, files: Sequence[str], dirs: Sequence[str]) -> None:
        """Make the written ``files`` and the entries of ``dirs`` durable: one ``syncfs(2)`` of the
        vault's file system where the platform has it, else an fsync of each (concurrently)."""
        if not files and not dirs:
            return
        if _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _syncfs(fd) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, os.strerror(code))
            finally:
                os.close(fd)
            return
        list(self._batch_pool().map(_fsync_path, [*files, *dirs]))

    def _write_meta(self, key: str, meta: dict[str, str]) -> None:
        """The sidecar is derivable (the key names the SHA-256, the record the retention) and read
        leniently (missing or cut short: no metadata), so it is not fsynced: a crash can only cost
        a sidecar, never an object or its name. Created in place with ``O_EXCL`` (never replaced)."""
        meta_path = self._meta_path_str(key)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            try:
                fd = os.open(meta_path, flags, OBJECT_MODE)
            except FileNotFoundError:
                _mkdir_p(os.path.dirname(meta_path), str(self.root), None)
                fd = os.open(meta_path, flags, OBJECT_MODE)
        except FileExistsError:
            return
        except OSError as exc:
            raise _write_error("write metadata for", key, exc) from exc
        try:
            try:
                _write_all(fd, json.dumps(meta, sort_keys=True).encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            # The object itself is committed; the sidecar is derivable from it and the retention policy.
            raise _write_error("write metadata for", key, exc) from exc

    # -- the retention lifecycle (issue 21) ----------------------------------------------------------
    # The same lifecycle as on S3, enforced by this software only: the sidecar holds the retain-until
    # date and the legal hold, and this store refuses to shorten the one or to delete a locked or held
    # file. It is NOT WORM: anyone with write access to the directory can still remove files.

    def _replace_meta(self, key: str, meta: dict[str, str]) -> None:
        meta_path = self._meta_path(key)
        try:
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.staging_dir())
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(meta, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, meta_path)
            _fsync_dir(meta_path.parent)
        except OSError as exc:
            raise _write_error("write metadata for", key, exc) from exc

    def _lifecycle_meta(self, key: str) -> dict[str, str]:
        if not self._path(key).is_file():
            raise KeyError(key)
        return self._read_meta(key)

    def extend_retention(self, key: str, until: datetime) -> datetime:
        meta = self._lifecycle_meta(key)
        current = _parse_until(meta.get("retain-until"))
        if current is not None and current >= until:
            return current
        meta["retain-until"] = until.isoformat()
        self._replace_meta(key, meta)
        return until

    def set_legal_hold(self, key: str, on: bool) -> None:
        meta = self._lifecycle_meta(key)
        meta["legal-hold"] = "ON" if on else "OFF"
        self._replace_meta(key, meta)

    def delete_all_versions(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            return 0
        meta = self._read_meta(key)
        until = _parse_until(meta.get("retain-until"))
        if meta.get("legal-hold") == "ON" or until is None or until > datetime.now(UTC):
            raise VaultLockedError(
                f"refusing to delete {key!r}: it is still locked (until {until}) or on legal hold "
                "(enforced by Capstone only: the local backend is not WORM)"
            )
        try:
            path.unlink()
            self._meta_path(key).unlink(missing_ok=True)
            _fsync_dir(path.parent)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise _write_error("delete", key, exc) from exc
        return 1


def _meta(sha256: str, size: int, media_type: str, retention: Retention) -> dict[str, str]:
    return {
        "sha256": sha256,
        "size": str(size),
        "media-type": media_type,
        "retention-class": retention.retention_class,
        "retain-until": retention.retain_until.isoformat(),
        "legal-hold": "ON" if retention.legal_hold else "OFF",
    }


def replace_created(result: PutResult) -> PutResult:
    """The result of a key's second occurrence in a batch: held already (by the first)."""
    return PutResult(key=result.key, sha256=result.sha256, size=result.size, created=False)


def _mkdir_p(path: str, root: str, known: set[str] | None) -> list[str]:
    """``mkdir -p`` below ``root`` (mode ``DIR_MODE``); the directories it created, outermost first
    (not yet durable: the batch's last sync makes them so).

    ``mkdir`` first, the parent only when that says the parent is missing: one system call for a
    new directory whose parent exists (the common case), none for a directory in ``known`` (those
    known to exist, to which every one made or found here is added)."""
    pending: list[str] = []  # missing with their parents, innermost first: made once those are
    created: list[str] = []
    node = path
    while node != root and (known is None or node not in known):
        try:
            os.mkdir(node, DIR_MODE)
            created.append(node)
        except FileNotFoundError:
            pending.append(node)
            node = os.path.dirname(node)
            continue
        except FileExistsError:
            pass
        break
    for directory in reversed(pending):  # ``node`` exists now: its descendants, outermost first
        try:
            os.mkdir(directory, DIR_MODE)
            created.append(directory)
        except FileExistsError:
            pass
    if known is not None:
        known.add(node)
        known.update(pending)
    return created


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    """``syncfs(2)`` from the C library (Linux), or None where there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _load_syncfs()


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """``sync_file_range(2)`` from the C library (Linux), or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    typed: Callable[[int, int, int, int], int] = function
    return typed


_sync_file_range = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int) -> None:
    """Start writing a staged file's pages to the disk now (``SYNC_FILE_RANGE_WRITE``: it does not
    wait, and it makes nothing durable), so the batch's sync finds most of them written. A hint:
    where there is no such call, or it fails, the sync does all of the work."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def _parse_until(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _empty(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return not any(entries)


def _mkdirs(path: Path) -> None:
    """``mkdir -p`` whose every new directory is ``DIR_MODE`` (``parents=True`` ignores the mode)."""
    for directory in reversed([path, *path.parents]):
        if not directory.is_dir():
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=DIR_MODE)


def _make_dirs_durably(path: Path, root: Path) -> None:
    """``mkdir -p`` whose new directories survive a crash: each one created is fsynced into its
    parent (a new ``blobs/sha256/ab/cd`` is otherwise only as durable as the file system's next
    journal commit)."""
    if path.is_dir():
        return
    missing: list[Path] = []
    node = path
    while not node.is_dir() and node != root and node != node.parent:
        missing.append(node)
        node = node.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent writer made it: fsync it all the same
            directory.mkdir(mode=DIR_MODE)
        _fsync_dir(directory.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
