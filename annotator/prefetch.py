"""Decoded images kept ready for the next switch: the neighbour in the direction of travel, decoded in the
background, and the image just left (Qt-free).

Decoding a 12-megapixel JPEG takes about 150 ms on two cores, most of an image switch; with the next image
decoded while the user works on this one, pressing D shows it without that wait, and going back (A) finds the
image just left. An entry is handed out only while its file's size and modification time are what they were
when it was read (an image edited on disk in between is read again); a failed background read hands out
nothing, so the window reads the file itself and reports the error as before.

    pre = Prefetcher(read_image)
    rgb = pre.take(path)          # the decoded image, or None: read it yourself
    pre.keep(path, rgb, stamp)    # the image being left (stamp: file_stamp(path) taken before reading it)
    pre.request(next_path)        # decode in the background
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

#: Entries kept (the next image and the one just left); each is a decoded RGB image.
ENTRIES = 2
#: Images larger than this are not kept (a 12-megapixel photo is 36 MB decoded).
MAX_BYTES = 200 * 1024 * 1024

Stamp = tuple[int, int]


def file_stamp(path: str | os.PathLike) -> Stamp | None:
    """(size, mtime_ns) of the file, None when it cannot be read. Take it before reading the file: a change
    during the read then shows as a different stamp later."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class Prefetcher:
    """Images decoded ahead by `reader` (e.g. `models.fileio.read_image`) on one background thread."""

    def __init__(self, reader: Callable[[Path], np.ndarray], entries: int = ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self._reader = reader
        self._entries = entries
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[Path, tuple[Stamp, Future]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None
        self.hits = 0  # images handed out (tests read it)

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            rgb = self._reader(path)
        except (Exception, MemoryError):  # the window reads it again and reports what is wrong
            return None
        return rgb if rgb.nbytes <= self._max_bytes else None

    def request(self, path: str | os.PathLike) -> None:
        """Start decoding `path` in the background (nothing when it is kept already or unreadable)."""
        path = Path(path)
        stamp = file_stamp(path)
        if stamp is None:
            return
        with self._lock:
            old = self._cache.get(path)
            if old is not None and old[0] == stamp:
                self._cache.move_to_end(path)
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ifcn-prefetch")
            self._cache[path] = (stamp, self._pool.submit(self._read, path))
            self._trim()

    def keep(self, path: str | os.PathLike, rgb: np.ndarray, stamp: Stamp | None) -> None:
        """Remember an image already decoded (the one being left), if small enough; `stamp` is the file's
        `file_stamp` from before it was read (a file changed since is not handed out)."""
        path = Path(path)
        if stamp is None or rgb.nbytes > self._max_bytes:
            return
        done: Future = Future()
        done.set_result(rgb)
        with self._lock:
            self._cache[path] = (stamp, done)
            self._trim()

    def take(self, path: str | os.PathLike) -> np.ndarray | None:
        """The decoded image of `path` (waiting for a decode under way), or None: read it yourself. The entry
        stays for a later switch back."""
        path = Path(path)
        with self._lock:
            entry = self._cache.get(path)
        if entry is None:
            return None
        stamp, fut = entry
        try:
            rgb = fut.result()
        except CancelledError:  # dropped (trimmed, or the window closing) before it ran
            rgb = None
        if rgb is None or file_stamp(path) != stamp:
            with self._lock:
                if self._cache.get(path) is entry:
                    del self._cache[path]
            return None
        self.hits += 1
        return rgb

    def clear(self) -> None:
        """Forget every entry (a new folder)."""
        with self._lock:
            self._cache.clear()

    def shutdown(self) -> None:
        """Forget everything and stop the thread (a decode under way finishes on its own)."""
        with self._lock:
            self._cache.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _trim(self) -> None:
        while len(self._cache) > self._entries:
            _, (_, fut) = self._cache.popitem(last=False)
            fut.cancel()
