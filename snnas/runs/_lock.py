"""The single-writer lock of a run directory.

Two processes appending candidates to one run would interleave indices and corrupt resume, so a run
is held under an exclusive ``fcntl.flock`` on ``DIR/.lock`` for as long as its store is open. The
kernel drops a flock when its process dies, so a run whose process was SIGKILLed can be resumed at
once: the leftover ``.lock`` file (which only records the last holder's pid) is never trusted.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from snnas.errors import RunError


class RunLock:
    """An exclusive, non-blocking lock on ``run_dir/.lock``; raises RunError when already held."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunError(f"run {self.path.parent} is in use by another process (pid {holder}); "
                               "wait for it to finish or stop it, then resume with "
                               f"'snnas search --resume {self.path.parent}'") from None
            try:  # the holder before us removed the file while we waited on its inode: take the new one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Unlock and remove the lock file, so a cleanly finished run leaves no stale ``.lock``."""
        if self._fd is not None:
            try:
                os.unlink(self.path)  # while still holding it: nobody can take the old inode meanwhile
            except FileNotFoundError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
