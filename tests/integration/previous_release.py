"""The gtmd of the release before this one (its commit in
tests/data/previous-release), built from source for the rolling-upgrade
test, and cached under the build tree so that a later run does not build it
again.

Its source comes from git (`git archive COMMIT` of this tree's history) or,
where the tree has no history (the fresh Debian root of tests/fresh/run.sh
copies `git archive HEAD`), from tests/data/previous-release.tar, which
tests/fresh/run.sh writes from the host's history; the tarball's embedded
commit id must be the recorded one. Without either the test is skipped with
that reason, or fails under GTM_DEPS_STRICT=1 (CI: tests/fresh/run.sh). The build is autoreconf, configure, make gtmd: minutes on two
cores, once per build tree (a lock file keeps two test processes from
building it at once)."""
import fcntl
import os
import shutil
import subprocess
import tempfile

from conftest import GTMD, TOP

RECORD = os.path.join(TOP, "tests", "data", "previous-release")
TARBALL = os.path.join(TOP, "tests", "data", "previous-release.tar")


def commit():
    """The recorded commit (40 hex digits)."""
    with open(RECORD) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1 and len(lines[0]) == 40, lines
    return lines[0]


def _source(dest, want):
    """Unpacks the previous release's source into dest; None, or why not."""
    git = shutil.which("git")
    if git and subprocess.run([git, "-C", TOP, "cat-file", "-e", want + "^{commit}"],
                              capture_output=True, timeout=30).returncode == 0:
        arch = subprocess.run([git, "-C", TOP, "archive", "--format=tar", want],
                              capture_output=True, timeout=120, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=arch, check=True, timeout=120)
        return None
    if os.path.exists(TARBALL):
        cid = subprocess.run([git or "git", "get-tar-commit-id"], stdin=open(TARBALL, "rb"),
                             capture_output=True, timeout=30).stdout.decode().strip() \
            if git else want  # without git the file's name is all there is to go by
        if cid != want:
            return "%s is of commit %s, not the recorded %s" % (TARBALL, cid, want)
        subprocess.run(["tar", "-x", "-C", dest, "-f", TARBALL], check=True, timeout=120)
        return None
    return ("the previous release's source is not available: %s has no git history holding "
            "commit %s and there is no %s (tests/fresh/run.sh writes it)" % (TOP, want, TARBALL))


def gtmd():
    """(path of the previous release's gtmd, None) or (None, why not)."""
    want = commit()
    cache = os.path.join(os.path.dirname(os.path.abspath(GTMD)), "previous-release")
    os.makedirs(cache, exist_ok=True)
    binary = os.path.join(cache, "gtmd-" + want[:12])
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if os.access(binary, os.X_OK):
            return binary, None
        work = tempfile.mkdtemp(prefix="src-", dir=cache)
        try:
            why = _source(work, want)
            if why:
                return None, why
            log = os.path.join(cache, "build.log")
            with open(log, "wb") as out:
                steps = [(["autoreconf", "-fi"], work),
                         (["sh", "../configure"], os.path.join(work, "build")),
                         (["make", "-j2", "gtmd"], os.path.join(work, "build"))]
                os.makedirs(os.path.join(work, "build"))
                for cmd, cwd in steps:
                    r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                       timeout=1800)
                    if r.returncode != 0:
                        with open(log, "rb") as f:
                            tail = f.read()[-3000:].decode(errors="replace")
                        raise AssertionError("building the previous release (%s) failed at %s:\n%s"
                                             % (want, " ".join(cmd), tail))
            shutil.copy2(os.path.join(work, "build", "gtmd"), binary + ".new")
            os.rename(binary + ".new", binary)
            return binary, None
        finally:
            shutil.rmtree(work, ignore_errors=True)
