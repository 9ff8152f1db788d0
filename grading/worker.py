"""The untrusted side: a zygote that forks one sandboxed worker per job; the worker runs a problem's probes.

The zygote is started by the grader (:mod:`grading.sandbox`) with a scrubbed environment, imports numpy,
torch and the probes once (trusted code only: no student file, no solution, no reference output is ever
in its memory), and then reads one JSON job per line on stdin. For each job it forks a child that

1. starts a new session (its own process group, which the grader kills as a whole),
2. as root: enters new mount and network namespaces, lays an empty read-only tmpfs over every path the
   job hides (the solution checkout, the grader), and drops to the job's unprivileged uid/gid,
3. sets its resource limits (CPU seconds, address space, processes, file size, no core files),
4. moves into the job's tree (the starter plus the submitted files), with stdout/stderr sent to a log,
5. imports the student's modules only through the probes, and writes what they return as arrays with
   ``numpy.savez`` (never pickle) into the job's output folder.

Pass or fail is never decided here: the grader compares these arrays with the reference outputs in its own
process (:mod:`grading.judge`). The zygote reports each child's pid when forked and its exit status when it
is gone; it is a child subreaper, so orphans of a worker are re-parented to it and reaped.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import sys
import traceback
from pathlib import Path

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x1000, 0x4000, 0x40000
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
SEPARATOR = "|"  # between a check's name and its value's key in the .npz
ERROR = "!raised"  # the key under which a check that raised records its one-line reason
_LIBC = ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args) -> None:
    """A libc call that raises ``OSError`` on failure."""
    if getattr(_LIBC, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def cover(covers: list[list[str]], keep: list[str]) -> None:
    """Lay an empty tmpfs (of the given mode) over each folder of ``covers``: a private /tmp, no /root; each
    path of ``keep`` (the job's tree, the interpreter) is bound back at its own place below them."""
    fds = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep]
    for path, mode in covers:
        if os.path.isdir(path):
            options = f"size=256m,mode={mode}".encode()
            _call("mount", b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options)
    for path, fd in zip(keep, fds):
        os.makedirs(path, mode=0o755, exist_ok=True)
        _call("mount", os.fsencode(f"/proc/self/fd/{fd}"), os.fsencode(path), None, MS_BIND | MS_REC, None)
        os.close(fd)


def isolate(job: dict) -> None:
    """New mount and network namespaces; the job's ``covers`` emptied, its ``hide`` paths empty and read-only."""
    _call("unshare", CLONE_NEWNS | CLONE_NEWNET)
    _call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    cover(job.get("covers", []), [*job.get("keep", []), job["tree"]])
    for path in job.get("hide", []):
        if os.path.isdir(path):
            flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            _call("mount", b"tmpfs", os.fsencode(path), b"tmpfs", flags, b"size=4k,mode=0555")


def _vm_size() -> int:
    """This process's current address-space size in bytes (numpy and torch are mapped already)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _user_tasks() -> int:
    """Processes and threads this user runs now (RLIMIT_NPROC counts them all, not the worker's alone)."""
    count, uid = 0, os.getuid()
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid:
                count += len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            continue
    return count


def set_limits(limits: dict, own_uid: bool) -> None:
    """Hard limits (soft == hard, so the student's code cannot raise them again). Under a uid of its own the
    process limit is the worker's; under the TA's user it comes on top of what that user already runs."""
    memory = _vm_size() + int(limits["memory_mb"]) * 2**20
    processes = int(limits["processes"]) + (0 if own_uid else _user_tasks())
    for name, value in (
        ("RLIMIT_CPU", int(limits["cpu_s"])),
        ("RLIMIT_AS", memory),
        ("RLIMIT_NPROC", processes),
        ("RLIMIT_FSIZE", int(limits["file_mb"]) * 2**20),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NOFILE", 256),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) for good; no setuid binary can give root back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not drop privileges to uid {uid}")


def _clean_imports(tree: str) -> None:
    """Only the job's tree and the installed libraries on the path; no editable install of a checkout."""
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    keep = [p for p in sys.path if "site-packages" in p or p.startswith(sys.base_prefix)]
    sys.path[:] = [tree, *keep]
    for name in [m for m in sys.modules if m.split(".")[0] in ("common", *STUDENT_PACKAGES)]:
        del sys.modules[name]
    import importlib

    importlib.invalidate_caches()


STUDENT_PACKAGES = ("medical_cnn", "autoencoders", "auto_decoder", "backprop", "mri_cs")


def enter(job: dict) -> None:
    """Everything before the student's code may run: session, namespaces, limits, user, stdio, environment."""
    os.setsid()
    if job.get("uid") is not None and job.get("namespaces"):
        isolate(job)
    log = os.open(os.path.join(job["tree"], "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if job.get("uid") is not None:
        os.fchown(log, job["uid"], job["uid"])
        drop_privileges(job["uid"])
    set_limits(job["limits"], job.get("uid") is not None)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 1024)
    os.chdir(job["tree"])
    os.umask(0o077)
    os.environ.clear()
    os.environ.update(job["env"])
    _clean_imports(job["tree"])


def status(out_dir: str, text: str) -> None:
    """What the worker is doing now (the grader names it when the worker is cut off)."""
    with open(os.path.join(out_dir, "status.txt"), "w") as f:
        f.write(text[:200])


def run_problem(job: dict, problem: str) -> None:
    """Run every probe of ``problem``; write ``<problem>.npz`` of ``check|key -> array``."""
    import numpy as np
    import torch

    from grading.probes import checks_of, one_line, to_arrays

    arrays: dict[str, np.ndarray] = {}
    for index, check in enumerate(checks_of(job["assignment"], problem)):
        status(job["out"], f"in check {check.name}")
        torch.manual_seed(job["seed"] + index)
        try:
            values = to_arrays(check.run(np.random.default_rng([job["seed"], index])))
        except BaseException as exc:  # noqa: BLE001  (the student's code may raise anything, SystemExit included)
            values = {ERROR: np.asarray(one_line(exc))}
        arrays.update({f"{check.name}{SEPARATOR}{key}": value for key, value in values.items()})
    status(job["out"], "writing its results")
    tmp = os.path.join(job["out"], f".{problem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(job["out"], f"{problem}.npz"))


def child(job: dict) -> None:
    """The forked worker: never returns into the zygote's loop."""
    code = 0
    try:
        enter(job)
        import torch

        torch.set_num_threads(1)
        for problem in job["problems"]:
            run_problem(job, problem)
        status(job["out"], "done")
    except BaseException:  # noqa: BLE001
        code = 70
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _send(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _reap(jobs: dict[int, int]) -> None:
    """Collect every exited child (workers and re-parented orphans); report the workers' statuses."""
    while True:
        try:
            pid, code = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in jobs:
            _send({"id": jobs.pop(pid), "pid": pid, "status": code})


def serve() -> None:
    """The zygote's loop: fork a child per job line on stdin, report pids and exit statuses on stdout."""
    _call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    import numpy  # noqa: F401  (imported once here, shared by every fork)
    import torch  # noqa: F401

    import grading.probes

    grading.probes.load_all()
    jobs: dict[int, int] = {}
    buffer = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.02)
        _reap(jobs)
        if not ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            job = json.loads(line)
            pid = os.fork()
            if pid == 0:
                child(job)
            jobs[pid] = job["id"]
            _send({"id": job["id"], "pid": pid})


if __name__ == "__main__":
    serve()
