"""How the runner tells the user about problems: the error it ends with, and counted stderr warnings."""
from __future__ import annotations

import signal
import sys
from collections import Counter
from contextlib import contextmanager
from typing import Iterator, TextIO

PROG = "drsn-runner"


class RunnerError(Exception):
    """A problem the user can fix: printed as one ``error:`` line, exit code 2."""


class Terminated(BaseException):
    """SIGTERM arrived (systemd stop): the run ends with a stated shutdown and exit code 143 (128 + 15).
    A BaseException, like KeyboardInterrupt, so no library's ``except Exception`` (a TFLite import) swallows it."""

    EXIT_CODE = 143


class SigtermGate:
    """SIGTERM handling in two phases. While the interpreter loads, a SIGTERM is only noted: raised in the
    middle of TensorFlow's import it left a half-initialised library whose threads kept the process from
    exiting. Once :meth:`arm` is called (the model is loaded), a noted or new SIGTERM unwinds the loop,
    except inside :meth:`held`, which it waits for."""

    def __init__(self) -> None:
        self.pending = False
        self.holding = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._note)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # a parent may have left it blocked

    def _note(self, signum: int, frame: object) -> None:
        self.pending = True

    def _unwind(self, signum: int, frame: object) -> None:
        if self.holding:
            self.pending = True
        else:
            raise Terminated()

    def arm(self) -> None:
        signal.signal(signal.SIGTERM, self._unwind)
        if self.pending:
            raise Terminated()

    @contextmanager
    def held(self) -> Iterator[None]:
        """A window's line and its count go together: a SIGTERM in between would report one window fewer
        than were written, so it is acted on once both are done. (Blocking the signal would not do: the
        runtime's worker threads would take it and Python would still run the handler here.)"""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            raise Terminated()


class Warnings:
    """stderr messages for recoverable input problems; repeated ones are counted, not repeated forever."""

    SHOWN_PER_KIND = 3

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.counts: Counter[str] = Counter()

    def __call__(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        n = self.counts[kind]
        if n <= self.SHOWN_PER_KIND:
            suffix = " (further ones are counted, not shown)" if n == self.SHOWN_PER_KIND else ""
            self.stream.write(f"{PROG}: warning: {message}{suffix}\n")
            self.stream.flush()

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
