"""Runs a command that is sent SIGTERM when the process that started it dies (PR_SET_PDEATHSIG):
`python -m tools.die_with_parent <parent pid> <command...>` sets the signal, then execs the
command in its own place (same pid).

Why not Popen's preexec_fn: with a preexec_fn Python forks and runs its fork hooks in the child,
gRPC's among them, whose restarted poller can abort the child before it execs (grpc/grpc#43055;
seen in CI as a service "exited during start-up (exit code -6)" with "Epoll1Poller ...
epoll_wait error: Bad file descriptor"). Without one, Popen spawns the shim with no hook run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def under_parent(argv: list[str]) -> list[str]:
    """`argv` wrapped so that it dies with this process."""
    return [sys.executable, "-m", "tools.die_with_parent", str(os.getpid()), *argv]


def main(args: list[str]) -> None:
    parent, command = int(args[0]), args[1:]
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was set
        sys.exit(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
