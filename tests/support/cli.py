"""Running the `minie5` command in tests: in this process (fast: the model code is already
imported and compiled) or, for what only a real process shows (exit codes, stdin bytes, broken
pipes), as a subprocess. Both return a subprocess.CompletedProcess with text stdout and stderr."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings

from minie5.cli import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_cli(*args, stdin: str | bytes | None = None, tty: bool = False) -> subprocess.CompletedProcess:
    """`minie5 ARGS...` in this process, as a user at a shell would see it (with tty=True, as if
    stderr were a terminal)."""
    argv = [str(a) for a in args]
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    stdout, stderr = io.StringIO(), (_Terminal() if tty else io.StringIO())
    # A pipe when stdin is given; otherwise an empty, closed one (never the test runner's terminal).
    fake_stdin = io.TextIOWrapper(io.BytesIO(data or b""), encoding="utf-8")
    with contextlib.ExitStack() as stack:
        # Fresh warning filters, as in a new process: pytest's own filters would hide the warnings
        # the CLI prints, and its registry would show each only once per session.
        stack.enter_context(warnings.catch_warnings())
        warnings.resetwarnings()
        warnings.simplefilter("default")
        stack.enter_context(contextlib.redirect_stdout(stdout))
        stack.enter_context(contextlib.redirect_stderr(stderr))
        saved_stdin, sys.stdin = sys.stdin, fake_stdin
        stack.callback(setattr, sys, "stdin", saved_stdin)
        try:
            status = main(argv)
        except SystemExit as e:  # argparse's usage errors and --help
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["minie5", *argv], status, stdout.getvalue(), stderr.getvalue())


def run_process(*args, stdin: str | bytes | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`python -m minie5 ARGS...` as a separate process."""
    text = not isinstance(stdin, bytes)
    return subprocess.run([sys.executable, "-m", "minie5", *map(str, args)], input=stdin,
                          capture_output=True, text=text, timeout=300, **kwargs)
