"""Cheating and runaway submissions: each gains 0 points, changes no file outside its worker's scratch space,
leaves no process behind, and the next honest submission's grade is unchanged.

Every attack is the starter's stub of backprop/functions.py (or the reference, where it shows that the
harm stays inside one problem) with code that runs at import or in one function. Graded as root, the
workers run as an unprivileged uid in their own namespaces; the file-system attacks are skipped otherwise.
"""

import os
import time
import uuid

import pytest

from grading.grade import Limits, grade
from grading.submission import ROOT

from .conftest import points, reasons, reference, starter, write

MARKER = f"attack-{uuid.uuid4().hex[:12]}"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="file isolation needs the grader to run as root")

PATCH_THE_JUDGE = """
import numpy, torch
torch.testing.assert_close = lambda *a, **k: None
torch.autograd.gradcheck = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
import grading.probes as probes
for check in probes.REGISTRY:  # every probe now reports that nothing is wrong
    object.__setattr__(check, "run", lambda rng: {"error": "no error", "ok": True})
_save = numpy.savez
def forged(path, **arrays):
    _save(path, **{k: numpy.zeros(1) for k in arrays})
numpy.savez = forged
"""

FORGE_OUTPUT = """
import os, sys, time, numpy
out = os.path.join(os.getcwd(), "out")
key = "test_network_is_built_from_the_hand_written_modules|layers"
for n in "123":
    numpy.savez(os.path.join(out, n + ".npz"), **{key: numpy.asarray(["Linear", "ReLU", "Linear"])})
if os.fork() == 0:  # a daemon that keeps forging after the worker ends, then becomes a marked sleeper
    os.setsid()
    if os.fork() == 0:
        for _ in range(50):
            for target in [os.path.join(out, n + ".npz") for n in "123"] + ["RESULTS"]:
                try:
                    open(target, "w").write('{"score": 1000}')
                except OSError:
                    pass
            time.sleep(0.05)
        os.execv("/bin/sleep", ["sleep", "300", "MARKER"])
    os._exit(0)
os._exit(0)
"""

EDIT_ON_DISK = """
import os, glob, grading.probes
targets = [
    "ROOT/grading/score.py", "ROOT/grading/judge.py", "ROOT/tests/conftest.py", "ROOT/backprop/functions.py",
    grading.probes.__file__, os.path.join(os.path.dirname(grading.probes.__file__), "backprop.py"),
]
for target in targets:
    try:
        with open(target, "a") as f:
            f.write("\\nSCORE = 1000  # MARKER\\n")
    except OSError:
        pass
for place in (os.path.expanduser("~"), "/tmp", "/dev/shm", "/var/tmp"):  # something for the next submission
    try:
        open(os.path.join(place, "MARKER.py"), "w").write("points = 1000\\n")
    except OSError:
        pass
"""

REACH_THE_SOLUTION = """
import os, glob
candidates = ["ROOT/backprop/functions.py", f"/proc/{os.getppid()}/cwd/backprop/functions.py"]
candidates += glob.glob("/proc/*/cwd/backprop/functions.py")
candidates += glob.glob("/tmp/grade-*/solution-*/backprop/functions.py")
try:
    import __editable___dl_course_0_1_0_finder as finder
    candidates.append(os.path.join(finder.MAPPING["backprop"], "functions.py"))
except Exception:
    pass
for path in candidates:
    try:
        exec(compile(open(path).read(), path, "exec"), globals())
        break
    except Exception:
        continue
"""

LEAK = """
import os, sys
def first_layer_grads(net, x, target):
    raise ValueError("SECRET=" + os.environ.get("GRADER_SECRET", "none") + " " + open("/proc/1/environ").read()[:50])
"""

HANG = """
import signal
for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
while True:
    pass
"""

FORK_BOMB = """
import os, time
worker = os.getpid()
for _ in range(5000):
    try:
        os.fork()
    except OSError:
        break
if os.getpid() == worker:
    os._exit(0)  # the worker ends at once; the grader must still find and kill every child
time.sleep(600)
"""

MEMORY = """
blocks = []
while True:
    blocks.append(bytearray(256 * 2**20))
"""

ATTACKS = {
    "patch_the_judge": PATCH_THE_JUDGE,
    "forge_output": FORGE_OUTPUT,
    "edit_on_disk": EDIT_ON_DISK,
    "reach_the_solution": REACH_THE_SOLUTION,
    "leak": LEAK,
    "hang": HANG,
    "fork_bomb": FORK_BOMB,
    "memory": MEMORY,
}


def touched() -> list[str]:
    """The repository's files that hold the attacks' marker (other sessions may edit the tree meanwhile, so
    the check looks for what an attack would have written, not for any change)."""
    files = [p for part in ("grading", "tests", "backprop", "common") for p in (ROOT / part).rglob("*.py")]
    return [str(p) for p in files if MARKER.encode() in p.read_bytes()]


def processes_with(text: str) -> list[int]:
    """Live processes whose command line holds ``text`` (the attacks' marker, the session's zygote)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            alive = name.isdigit() and not open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
            if alive and text.encode() in open(f"/proc/{name}/cmdline", "rb").read():
                found.append(int(name))
        except (OSError, IndexError):
            pass
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, session):
    """``{attack: (score, seconds)}`` for every attack, graded one after the other, then the honest grade."""
    out = {}
    os.environ["GRADER_SECRET"] = MARKER
    results = tmp_path_factory.mktemp("results") / "results.json"
    try:
        for name, code in ATTACKS.items():
            code = code.replace("ROOT", str(ROOT)).replace("MARKER", MARKER).replace("RESULTS", str(results))
            folder = write(tmp_path_factory.mktemp(name), {"functions.py": starter("backprop", "functions.py") + code})
            start = time.monotonic()
            (score,) = grade(["backprop"], folder, Limits(wall_s=3.0, cpu_s=3.0, memory_mb=512), session=session)
            out[name] = (score, time.monotonic() - start)
        honest = write(tmp_path_factory.mktemp("honest"), {"functions.py": reference("backprop", "functions.py")})
        out["honest"] = (grade(["backprop"], honest, Limits(wall_s=60.0, cpu_s=30.0), session=session)[0], 0.0)
    finally:
        del os.environ["GRADER_SECRET"]
    time.sleep(0.5)  # a process left behind would be forging now
    return out, results


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_gains_nothing(attacked, name):
    score, seconds = attacked[0][name]
    assert score.earned == 0, [p.reasons for p in score.problems]
    assert seconds < 60


@ROOT_ONLY
def test_no_attack_changed_a_file_or_left_a_process_or_a_trace(attacked, session):
    _, results = attacked
    assert not touched()
    assert not processes_with(MARKER)
    assert processes_with(str(session.folder / "runtime")) == [session.zygote.proc.pid]  # the forks of the bomb too
    assert not results.exists()
    leftovers = [p for place in ("/tmp", "/dev/shm", "/var/tmp") for p in os.listdir(place) if MARKER in p]
    assert not leftovers


def test_the_next_honest_submission_gets_full_marks(attacked):
    honest, _ = attacked[0]["honest"]
    assert points(honest) == {"1": 6, "2": 4, "3": 10}, [p.reasons for p in honest.problems]


def test_nothing_secret_or_hidden_leaks_into_the_output(attacked):
    score, _ = attacked[0]["leak"]
    text = "\n".join(r for p in score.problems for r in p.reasons)
    assert MARKER not in text and "PATH=" not in text
    assert "hidden check failed" in reasons(score, "3") and "hand_derived" not in reasons(score, "3")


def test_a_hang_that_ignores_every_signal_is_cut_per_problem(attacked):
    score, seconds = attacked[0]["hang"]
    assert all("did not finish within 3 s" in p.reasons[0] for p in score.problems)
    assert seconds < 3 * 3 + 30


def test_runaway_processes_and_memory_end_with_a_reason(attacked):
    bomb, _ = attacked[0]["fork_bomb"]
    memory, _ = attacked[0]["memory"]
    assert all(p.reasons for p in bomb.problems + memory.problems)
    assert "ended with exit code 0" in reasons(bomb, "1") or "did not finish" in reasons(bomb, "1")  # a busy machine
    assert "MemoryError" in reasons(memory, "1") or "killed" in reasons(memory, "1")


def test_a_link_or_an_unexpected_file_is_refused_with_a_reason(tmp_path, session):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "functions.py").symlink_to(ROOT / "backprop" / "functions.py")
    (folder / "notes.txt").write_text("hello")
    (score,) = grade(["backprop"], folder, Limits(wall_s=5.0, cpu_s=5.0), session=session)
    assert score.earned == 0
    assert all("missing" in p.reasons[0] for p in score.problems)
    assert any("functions.py: refused (a link" in n for n in score.notes)
    assert any("notes.txt: refused" in n for n in score.notes)


def test_an_exit_in_one_function_costs_that_problem_only(tmp_path, session):
    code = reference("backprop", "functions.py").replace(
        "        ctx.save_for_backward(x, weight)\n        ctx.has_bias",
        "        import os\n        os._exit(0)\n        ctx.has_bias",
        1,
    )
    folder = write(tmp_path / "sub", {"functions.py": code})
    (score,) = grade(["backprop"], folder, Limits(wall_s=60.0, cpu_s=30.0), session=session)
    assert points(score) == {"1": 0, "2": 4, "3": 10}
    assert "exit code 0 before writing its results" in reasons(score, "1")
