"""Runs a program on a pseudo-terminal and plays a script of steps against it, as a person would.

Usage: /usr/bin/python3 drive.py STEPS.json -- PROGRAM [ARGS...]

STEPS.json is a list of ["expect", TEXT] (wait until TEXT appears in the output after the point
the previous expect matched) and ["send", TEXT] (type TEXT). The whole transcript goes to standard
output at the end; the exit code is the program's, or 97 when an expected text never came.
"""
import fcntl
import json
import os
import pty
import select
import struct
import sys
import termios
import time

WAIT_SECONDS = 60


def main():
    steps_file = sys.argv[1]
    program = sys.argv[sys.argv.index("--") + 1:]
    with open(steps_file, encoding="utf-8") as f:
        steps = json.load(f)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execvp(program[0], program)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    transcript = b""
    matched = 0

    def read_some(timeout):
        nonlocal transcript
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        transcript += data
        return True

    for kind, text in steps:
        if kind == "send":
            os.write(fd, text.encode("utf-8"))
            continue
        wanted = text.encode("utf-8")
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            found = transcript.find(wanted, matched)
            if found >= 0:
                matched = found + len(wanted)
                break
            if time.monotonic() > deadline or not read_some(0.5):
                sys.stdout.write(transcript.decode("utf-8", "replace"))
                sys.stdout.write("\n[drive.py] never saw: %r\n" % text)
                os.kill(pid, 9)
                sys.exit(97)
    while read_some(WAIT_SECONDS):
        pass
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(transcript.decode("utf-8", "replace"))
    sys.exit(os.waitstatus_to_exitcode(status))


main()
