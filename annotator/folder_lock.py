"""One annotator per output folder: a lock file naming its holder (pid, host, time), Qt-free.

`OUT/.ifcn-annotator.lock` is created with O_EXCL when a window opens the folder and removed when it
leaves it. Each holder is one window (an instance token), so two windows of one process exclude each other
too. A lock whose holder is gone (its pid is dead on this host, or its window closed in this process) is
stale and taken over; a lock held from another host cannot be checked and is respected.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from models.fileio import atomic_write_text

LOCK_NAME = ".ifcn-annotator.lock"
#: Tokens of the locks this process holds now (a lock of this pid with another token is stale).
_live_tokens: set[str] = set()


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: process id, host name, when it was taken (epoch s), the holder's token."""

    pid: int
    host: str
    since: float
    token: str

    def describe(self) -> str:
        """'process 1234 on host "lab-7" since 2024-05-01 10:22' for messages."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        return f'process {self.pid} on host "{self.host}" since {when}'


@dataclass(frozen=True)
class LockResult:
    """Outcome of acquire(): held (ours now), else `holder` holds it; `note` says what else happened."""

    held: bool
    path: Path
    token: str
    holder: LockInfo | None = None
    note: str = ""


def lock_path(out_dir: str | os.PathLike) -> Path:
    """The lock file of an output folder."""
    return Path(out_dir) / LOCK_NAME


def read_lock(path: Path) -> LockInfo | None:
    """The lock's holder, or None when the file is missing or not a lock this program wrote."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(int(doc["pid"]), str(doc["host"]), float(doc["since"]), str(doc["token"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def pid_alive(pid: int) -> bool:
    """True when a process with this id runs on this machine (or cannot be checked)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return True
    return True


def is_stale(info: LockInfo) -> bool:
    """True when the lock's holder is certainly gone: on this host, its process is dead or (this process)
    its window has released every claim."""
    if info.host != socket.gethostname():
        return False
    if info.pid == os.getpid():
        return info.token not in _live_tokens
    return not pid_alive(info.pid)


def _doc(token: str) -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "token": token})


def acquire(out_dir: str | os.PathLike, token: str | None = None) -> LockResult:
    """Take the output folder's lock for the holder `token` (a new one when None).

    Held by the same token: kept. Held by a live other holder: not taken (`holder` says who). Stale or
    unreadable: taken over (`note` says so). A folder where no lock can be written (read-only, missing)
    is reported as held with a note: its saves fail on their own, with their own message.
    """
    token = token or uuid.uuid4().hex
    path = lock_path(out_dir)
    for _ in range(3):
        try:
            _create(path, _doc(token))
        except FileExistsError:
            info = read_lock(path)
            if info is not None and info.token == token:
                _live_tokens.add(token)
                return LockResult(True, path, token)
            if info is not None and not is_stale(info):
                return LockResult(False, path, token, holder=info)
            why = (f"the annotator that held it ({info.describe()}) is no longer running" if info is not None
                   else "its lock file could not be read")
            try:
                atomic_write_text(path, _doc(token))
            except OSError as e:
                return LockResult(True, path, token, note=f"{path} could not be taken over ({e.strerror or e}).")
            now = read_lock(path)
            if now is not None and now.token == token:
                _live_tokens.add(token)
                return LockResult(True, path, token, note=f"Took over the lock of {path.parent}: {why}.")
            continue  # another instance took it over at the same moment: look again
        except OSError as e:
            return LockResult(True, path, token, note=f"No lock file could be written in {path.parent} "
                                                      f"({e.strerror or e}).")
        _live_tokens.add(token)
        return LockResult(True, path, token)
    return LockResult(False, path, token, holder=read_lock(path))


def _create(path: Path, text: str) -> None:
    """Create `path` holding `text`, complete or not at all (FileExistsError when it exists)."""
    tmp = path.with_name(f"{LOCK_NAME}.{uuid.uuid4().hex[:12]}.tmp")
    with open(tmp, "x", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if the lock exists: nobody ever sees a half-written lock
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some shares): exclusive create, then write
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    finally:
        os.unlink(tmp)


def release(path: Path, token: str) -> None:
    """Remove the lock at `path` if `token` still holds it."""
    _live_tokens.discard(token)
    info = read_lock(path)
    if info is not None and info.token == token:
        try:
            os.unlink(path)
        except OSError:
            pass
