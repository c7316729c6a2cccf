"""Artifact folders appear whole or not at all: one export per folder at a time (a lock file),
work in a temporary sibling, then rename into place."""
import contextlib
import fcntl
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def exclusive(out: Path, log):
    """Hold ``.<name>.lock`` next to ``out``; a second export of the same folder waits here."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"export: waiting for another export of {out}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staging(out: Path):
    """A fresh temporary folder; on success the caller's ``replace`` puts it in place."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):   # left by a killed run
        pid = stale.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace(tmp: Path, out: Path):
    # every file readable like the folder's others (onnx writes external data owner-only)
    umask = os.umask(0)
    os.umask(umask)
    for path in tmp.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
