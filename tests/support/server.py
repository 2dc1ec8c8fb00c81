"""A real `minie5 serve` process on 127.0.0.1 for the server tests: started on a free port, its
address read from the line it prints once it accepts connections, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading


@contextlib.contextmanager
def running_server(*args, timeout: float = 120):
    """Yield (process, base URL without /v1) of `minie5 serve --port 0 ARGS...`."""
    process = subprocess.Popen([sys.executable, "-m", "minie5", "serve", "--port", "0", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found: list[str] = []

    def read_ready_line():
        for line in process.stdout:
            match = re.search(r"at (http://[^ ]+)/v1", line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read_ready_line, daemon=True)
    reader.start()
    reader.join(timeout)
    try:
        if not found:
            process.kill()
            raise RuntimeError(f"minie5 serve did not start: {process.stderr.read()[-2000:]}")
        yield process, found[0]
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
