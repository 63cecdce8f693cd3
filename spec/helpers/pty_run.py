#!/usr/bin/python3
"""Runs a command on a pseudo-terminal and answers its prompts, for tests of interactive password entry.

usage: pty_run.py ANSWER... -- COMMAND [ARG...]

Each time the command's output ends with a prompt (text ending in ": "), the next ANSWER is typed followed by
Enter. Everything the command wrote to the terminal is copied to standard output; the exit code is the
command's own (128 + signal number if it was killed by a signal).
"""

import os
import pty
import select
import sys
import time


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    answers, command = argv[:split], argv[split + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen = b""
    pending = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        pending += chunk
        if pending.rstrip(b"\r\n").endswith(b":") or pending.endswith(b": "):
            if answers:
                os.write(fd, answers.pop(0).encode() + b"\r")
            pending = b""
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode("utf-8", "replace"))
    sys.stdout.flush()
    sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0 else 128 - os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
