"""`uspd serve` as a user starts it: a child process on a free port, and the URL it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"


class ServeProcess:
    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "uspd.cli", "serve", "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self.url: str | None = None
        ready = threading.Event()

        def watch() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                match = re.search(r"dashboard: (http://\S+/)", line)
                if match:
                    self.url = match.group(1)
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=watch, daemon=True)
        self._reader.start()
        ready.wait(timeout=60)
        if self.url is None:
            self.process.kill()
            pytest.fail(f"uspd serve did not start: {self.output}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.process.terminate()
        code = self.process.wait(timeout=20)
        self._reader.join(timeout=5)
        return code
