"""`mlflow server` (the pinned 3.17) for tests: a sqlite store, 127.0.0.1 only, a free port,
stopped by its process group."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """start() waits until /health answers (60 s at most); stop() ends the server and its
    workers; both may be called again (a test stops and restarts it on the same port)."""

    def __init__(self, folder, port: int | None = None, artifacts: bool = True):
        self.folder, self.port, self.proc = folder, port or free_port(), None
        self.artifacts = artifacts

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        extra = ["--default-artifact-root", str(self.folder / "artifacts")] \
            if self.artifacts else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
             str(self.port), "--backend-store-uri", f"sqlite:///{self.folder}/mlflow.db",
             *extra, "--workers", "1"],
            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=1)
                return self
            except OSError:
                time.sleep(0.25)
        raise RuntimeError("mlflow server did not answer within 60 s")

    def pause(self) -> None:
        """A server that never answers: it still accepts connections (the kernel does), but
        no request gets a reply until resume()."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)  # a paused server must see the SIGTERM
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
