"""The trusted side of the sandbox: the zygote process, the unprivileged uid, the limits and the clean-up.

As root (Gradescope, a container), every worker runs as a uid of its own that no account and no other
process uses, in new mount and network namespaces where the solution checkout and the grader are hidden;
its tree is the only place it may write. Without root (a TA's own account) the worker runs as the TA's
user: the limits, the process-group kill and the trusted verdicts still hold, but the files the TA can
write are writable to the student's code too (run the grader as root, e.g. in a container, for real
submissions). After every job the worker's process group, its session and (as root) every process of its
uid are killed, repeatedly until none is left, before anything is read or written.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from grading.worker import serve; serve()"


@dataclass(frozen=True)
class Limits:
    """Per worker: wall clock and CPU seconds, extra address space, processes/threads, largest file written."""

    wall_s: float = 30.0
    cpu_s: float = 30.0
    memory_mb: int = 2048
    processes: int = 64
    file_mb: int = 64


def is_root() -> bool:
    return os.geteuid() == 0


def free_uid() -> int:
    """A uid no account names and no process runs as (below 65534, so any container's uid map holds it)."""
    used = {p.pw_uid for p in pwd.getpwall()} | {owner(pid) for pid in pids()}
    while True:
        uid = 60000 + secrets.randbelow(5000)
        if uid not in used:
            return uid


def pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    """``state ppid pgrp session ...`` of /proc/<pid>/stat (after the command name)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[-1].split()


def owner(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def clean_env(home: str) -> dict[str, str]:
    """The only environment the zygote and the workers see: no token, no path of the grader's user."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
    }


def victims(session: int, uid: int | None) -> list[int]:
    """Live processes of the worker: in its session, or (as root) running as its uid."""
    found = []
    for pid in pids():
        fields = _stat_fields(pid)
        if len(fields) < 4 or fields[0] in ("Z", "X") or pid == os.getpid():
            continue
        if int(fields[3]) == session or (uid is not None and owner(pid) == uid):
            found.append(pid)
    return found


def kill_all(session: int, uid: int | None, patience: float = 10.0) -> bool:
    """SIGKILL the worker's group, session and uid until nothing is left; False if something outlived it."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            os.killpg(session, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        left = victims(session, uid)
        if not left:
            return True
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    return not victims(session, uid)


@dataclass
class Fate:
    """How a worker ended: its wait status, whether the wall clock cut it, how long it ran."""

    status: int | None
    timed_out: bool
    seconds: float
    clean: bool = True  # every process of the worker was gone before the results were read

    def describe(self, wall: float) -> str:
        if self.timed_out:
            return f"did not finish within {wall:g} s"
        if self.status is None:
            return "the worker was lost"
        if os.WIFSIGNALED(self.status):
            sig = os.WTERMSIG(self.status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            hint = (
                " (CPU time limit)" if sig == signal.SIGXCPU else " (file size limit)" if sig == signal.SIGXFSZ else ""
            )
            return f"the worker was killed by {name}{hint}"
        return f"the worker ended with exit code {os.WEXITSTATUS(self.status)} before writing its results"


class Zygote:
    """A process with numpy and torch imported, forking one sandboxed worker per :meth:`run`."""

    def __init__(self, runtime: Path, home: Path, log: Path) -> None:
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, str(runtime)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=clean_env(str(home)),
            cwd=home,
            start_new_session=True,
        )
        self._buffer, self._next = b"", 0

    def _message(self, deadline: float) -> dict | None:
        """The zygote's next JSON line, or None when ``deadline`` passes (or the zygote died)."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, job: dict, limits: Limits, uid: int | None) -> Fate:
        """Run ``job`` in a fresh worker; kill everything it left; return how it ended."""
        self._next += 1
        job = dict(job, id=self._next, uid=uid, limits=asdict(limits))
        start = time.monotonic()
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()
        started = self._message(start + 60)
        if started is None:
            raise RuntimeError("the grader's zygote did not answer (see its log)")
        pid = started["pid"]
        ended = self._message(start + limits.wall_s)
        timed_out = ended is None
        clean = kill_all(pid, uid)
        if ended is None:
            ended = self._message(time.monotonic() + 10)
        return Fate(ended and ended["status"], timed_out, time.monotonic() - start, clean)

    def close(self) -> None:
        """Stop the zygote and anything still in its session."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        kill_all(self.proc.pid, None, patience=2.0)
        self.proc.wait()
        self._log.close()


NAMESPACE_PROBE = (
    "import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
    "sys.exit(libc.unshare(0x00020000 | 0x40000000) != 0 or libc.mount(b'none', b'/', None, 0x4000 | 0x40000, None))"
)


def namespaces_available() -> bool:
    """Whether this (root) process may create mount and network namespaces (a container may forbid it)."""
    done = subprocess.run([sys.executable, "-I", "-c", NAMESPACE_PROBE], capture_output=True, check=False)
    return done.returncode == 0


def user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
