#!/usr/bin/python3
"""Runs every command that command 1 (contrib/setup.sh) printed, in order, as
a newcomer pasting them would, and checks each one.

Usage: demo_lines.py SETUP_OUTPUT   (from the top of the tree, after setup.sh)

A printed command is a line after "Try:" that starts with two spaces. All of
them run in one shell, in order (so `. run/gtmctl.env` holds for the lines
after it), each with a 60 s limit. A line passes when:
  - its shell status is 0 and it printed something (a `. file` line excepted);
  - a dig line's reply says NOERROR (or, with +short, is not empty);
  - every address in parentheses in its comment is in its output; with
    +short, the answer is exactly those addresses (a failover record that
    fails open just after the start would give both).
The last printed line (`sh contrib/setup.sh`, which starts everything again)
is run too, so the demo is left as command 1 left it.

Prints one line per command ("ok N - ..." or "not ok N - ...") and a summary
"demo: P passed, F failed"; exits 1 when any failed or no command was found.
"""
import os
import re
import select
import subprocess
import sys
import time

ADDR_RE = re.compile(r"\((\d+\.\d+\.\d+\.\d+)\)")
MARK = "@@gtmd-demo-line-end@@"
LINE_LIMIT = 60  # seconds a printed line may take (setup.sh itself included)


class LineReader:
    """Lines from a pipe, each read with a deadline (select, no thread)."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def readline(self, deadline):
        """The next line as text, or None at the deadline or end of file."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            d = os.read(self.fd, 4096)
            if not d:
                return None
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode(errors="replace") + "\n"


def printed_commands(text):
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.rstrip().endswith("Try:")), None)
    if start is None:
        return []
    out = []
    for ln in lines[start + 1:]:
        if ln.startswith("  ") and ln.strip():
            out.append(ln.strip())
    return out


def split_comment(line):
    """The command and its comment: a '#' preceded by blanks, outside quotes."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and i > 0 and line[i - 1] in " \t":
            return line[:i].rstrip(), line[i + 1:].strip()
    return line, ""


def check(cmd, comment, status, output):
    """The reasons a line failed (empty when it passed)."""
    why = []
    if status != 0:
        why.append("exit status %d" % status)
    if not cmd.startswith(". ") and not output.strip():
        why.append("printed nothing")
    if re.search(r"(^|[;&|]\s*)dig\b", cmd):
        if "+short" in cmd:
            if not output.strip():
                why.append("dig +short gave no answer")
        elif "status: NOERROR" not in output:
            why.append("dig reply is not NOERROR")
    want = ADDR_RE.findall(comment)
    if "+short" in cmd and want:
        got = sorted(set(re.findall(r"^(\d+\.\d+\.\d+\.\d+)$", output, re.M)))
        if got != sorted(set(want)):
            why.append("answer %s, not exactly %s" % (got, sorted(set(want))))
    for addr in want:
        if not re.search(r"(?<![\d.])%s(?![\d])" % re.escape(addr), output):
            why.append("%s is not in the output" % addr)
    return why


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        cmds = printed_commands(f.read())
    if not cmds:
        print("demo: no printed command found after 'Try:' in %s" % sys.argv[1])
        print("demo: 0 passed, 1 failed")
        return 1
    sh = subprocess.Popen(["sh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    reader = LineReader(sh.stdout.fileno())
    passed = failed = 0
    for n, line in enumerate(cmds, 1):
        cmd, comment = split_comment(line)
        # One shell for all lines, so `. run/gtmctl.env` holds for the lines
        # after it; each line's end and status are marked on its output.
        sh.stdin.write(("%s\necho \"%s $?\"\n" % (cmd, MARK)).encode())
        sh.stdin.flush()
        output, status = [], None
        deadline = time.monotonic() + LINE_LIMIT
        while True:
            ln = reader.readline(deadline)
            if ln is None:
                break
            if ln.startswith(MARK):
                status = int(ln.split()[-1])
                break
            output.append(ln)
        text = "".join(output)
        if status is None:
            why = ["no end within %d s (or the shell ended)" % LINE_LIMIT]
        else:
            why = check(cmd, comment, status, text)
        if why:
            failed += 1
            print("not ok %d - %s: %s" % (n, cmd, "; ".join(why)))
            for ln in text.splitlines()[-15:]:
                print("#   " + ln)
        else:
            passed += 1
            print("ok %d - %s" % (n, cmd))
        sys.stdout.flush()
        if status is None:
            sh.kill()
            break
    sh.stdin.close()
    try:
        sh.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sh.kill()
    print("demo: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed == len(cmds) else 1


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    sys.exit(main())
