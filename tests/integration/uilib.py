"""The console's browser for the integration tests: Debian's chromium,
driven by playwright-core (tests/ui, installed by contrib/deps.sh with
npm ci) through tests/ui/driver.mjs, one JSON command per line. Tests that
need it skip, with the reason, when chromium, node or node_modules are
missing."""
import json
import os
import select
import shutil
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
UI_DIR = os.path.normpath(os.path.join(HERE, "..", "ui"))
DRIVER = os.path.join(UI_DIR, "driver.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing():
    """Why the browser cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (contrib/deps.sh installs Debian's chromium)" % CHROMIUM
    if not shutil.which("node"):
        return "node is not installed (contrib/deps.sh installs nodejs)"
    if not os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")):
        return "tests/ui/node_modules is missing (contrib/deps.sh runs npm ci there)"
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless chromium; every command waits at most its timeout."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", DRIVER], cwd=UI_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, CHROMIUM=CHROMIUM))
        self.buf = b""

    def call(self, op, timeout=None, **kw):
        """timeout: the browser's own bound for this command, in ms (the
        driver's default, 20 s, without it). It used to be taken here as
        seconds and never sent, so every wait was the driver's 5 s."""
        kw["op"] = op
        if timeout is not None:
            kw["timeout"] = int(timeout)
        self.proc.stdin.write((json.dumps(kw) + "\n").encode())
        self.proc.stdin.flush()
        # The browser's bound, and chromium's start-up on the first call.
        wait_s = (timeout if timeout is not None else 20000) / 1000.0
        deadline = time.monotonic() + wait_s + 30
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(0, left))
            if not r:
                raise BrowserError("browser: no reply to %s in time" % op)
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise BrowserError("browser exited: %s" % self.proc.stderr.read().decode()[-2000:])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError("browser %s %r: %s" % (op, kw, reply["error"]))
        return reply["value"]

    def close(self):
        try:
            self.proc.stdin.write(b'{"op": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def browser():
    why = missing()
    if why:
        pytest.skip("console browser tests: " + why)
    b = Browser()
    yield b
    b.close()
