"""The real ServerManager launching the stand-in server process (fake_vllm.py) instead of vLLM."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from workbench.llm.server import Progress, ServerManager
from workbench.llm.serverprocess import Starter
from workbench.settings import Settings

FAKE_SERVER = Path(__file__).with_name("fake_vllm.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, str(FAKE_SERVER), str(port), "0.5", *extra]


class FakeVLLM(ServerManager):
    """The real manager, launching tests/llm/fake_vllm.py instead of vLLM."""

    def __init__(self, settings: Settings, port: int, *extra: str, starter: Starter = "command"):
        super().__init__(settings, port=port, starter=starter)
        self.extra = extra

    def prepare(self, progress: Progress) -> list[str]:
        return fake_command(self.port, *self.extra)
