"""A real OpenClaw gateway on loopback with a stub model provider that records what the model receives.

Used by tests/test_gateway_e2e.py and bench/bench_gateway.py. Everything it starts is stopped
by ``close()`` (the gateway's whole process group, by pid); nothing listens beyond 127.0.0.1.

- ``StubProvider``: an OpenAI-compatible ``/v1/chat/completions`` server (streaming SSE, as
  OpenClaw's ``openai-completions`` API requests it; docs/gateway/local-models.md) that answers
  every request with one short reply and keeps each request body with its arrival time.
- ``Gateway``: ``openclaw gateway run`` from the pinned npm package with a state dir of its own
  (``openclaw.json``: ``gateway.mode=local``, loopback, ``auth.mode=none``, the stub as the
  default model, recurring heartbeats off), and real turns through it (tests/e2e/gateway_turns.mjs:
  ``chat.send`` then ``agent.wait``, the path that fires ``message:received``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
TURNS = HERE / "gateway_turns.mjs"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ModelRequest:
    at: float          # time.time() when it arrived
    body: dict

    @property
    def system(self) -> str:
        """The system prompt as text (OpenClaw sends one system message first)."""
        first = self.body["messages"][0]
        return _text(first["content"]) if first["role"] == "system" else ""

    @property
    def user_turn(self) -> str:
        """The last user message a person wrote (OpenClaw appends an internal-context user part after it)."""
        users = [_text(m["content"]) for m in self.body["messages"] if m["role"] == "user"]
        real = [u for u in users if "OPENCLAW_INTERNAL_CONTEXT" not in u]
        return real[-1] if real else ""

    @property
    def tool_results(self) -> list[str]:
        """The tool results OpenClaw sent back (``role: tool`` messages), oldest first."""
        return [_text(m.get("content")) for m in self.body["messages"] if m["role"] == "tool"]

    def text(self) -> str:
        return "\n".join(_text(m.get("content")) for m in self.body["messages"])


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class StubProvider:
    """OpenAI-compatible model on 127.0.0.1 that records every chat-completions request.

    It answers with ``reply``; or, after ``call_tool(name, args)``, the next request that does not
    end with a tool result gets that tool call instead (OpenAI streaming ``delta.tool_calls``,
    ``finish_reason: "tool_calls"``), and OpenClaw's request with the tool's result gets ``reply``."""

    def __init__(self, reply: str = "Noted."):
        self.reply = reply
        self.requests: list[ModelRequest] = []
        self._tool_calls: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):  # /v1/models
                body = json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw or b"{}")
                with stub._lock:
                    stub.requests.append(ModelRequest(time.time(), body))
                    last = (body.get("messages") or [{}])[-1]
                    tool = stub._tool_calls.pop(0) if stub._tool_calls and last.get("role") != "tool" else None
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                base = {"id": "stub-1", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": "stub-model"}
                if tool is None:
                    delta, finish = {"role": "assistant", "content": stub.reply}, "stop"
                else:
                    delta = {"role": "assistant", "tool_calls": [{
                        "index": 0, "id": f"call_{len(stub.requests)}", "type": "function",
                        "function": {"name": tool[0], "arguments": json.dumps(tool[1])}}]}
                    finish = "tool_calls"
                for chunk in (
                    {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                    {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}},
                ):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="stub-model", daemon=True)
        self._thread.start()

    def call_tool(self, name: str, args: dict) -> None:
        """Answer the next model request (not itself a tool result) with a call of tool ``name``."""
        with self._lock:
            self._tool_calls.append((name, args))

    def since(self, t: float) -> list[ModelRequest]:
        with self._lock:
            return [r for r in self.requests if r.at >= t]

    def quiet(self, for_s: float, timeout_s: float) -> bool:
        """Wait until no request has come for ``for_s`` seconds (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                last = self.requests[-1].at if self.requests else 0.0
            if time.time() - last >= for_s:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(state_dir: Path, gateway_port: int, model_port: int) -> None:
    """A minimal local-mode ``openclaw.json`` (fields as docs/gateway/local-models.md and
    docs/cli/gateway/running.md give them)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "gateway": {"mode": "local", "port": gateway_port, "bind": "loopback", "auth": {"mode": "none"}},
        "agents": {"defaults": {
            "model": {"primary": "stub/stub-model"},
            "workspace": str(state_dir / "workspace"),
            "heartbeat": {"every": "0m"},  # no turns the test did not ask for
        }},
        "models": {"mode": "merge", "providers": {"stub": {
            "baseUrl": f"http://127.0.0.1:{model_port}/v1", "apiKey": "stub", "api": "openai-completions",
            "models": [{"id": "stub-model", "name": "Stub", "reasoning": False, "input": ["text"],
                        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                        "contextWindow": 128000, "maxTokens": 4096}],
        }}},
    }
    (state_dir / "openclaw.json").write_text(json.dumps(config, indent=2) + "\n")


class Gateway:
    """``openclaw gateway run`` as a child process group; ``turns()`` sends real turns through it."""

    def __init__(self, node: Path, package: Path, env: dict, log_path: Path):
        self.node, self.package = node, package
        self.env = dict(env, PATH=f"{node.parent}{os.pathsep}{env.get('PATH', '')}")
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([str(self.node), str(self.package / "openclaw.mjs"), "gateway", "run"],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openclaw gateway exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if re.search(r"\[gateway\] ready", self.log()):
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"openclaw gateway not ready in {timeout:.0f} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        try:
            return _ANSI.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            return ""

    def restart(self) -> None:
        self.stop()
        self.log_path.write_bytes(b"")
        self.start()

    def turns(self, turns: list[tuple[str, str]], timeout_s: float = 120) -> list[dict]:
        """Send ``[(session key, message)]`` one after another; one dict per turn (see gateway_turns.mjs)."""
        args = {"turns": [{"sessionKey": k, "message": m} for k, m in turns], "timeoutMs": 60000}
        done = subprocess.run([str(self.node), str(TURNS), str(self.package), json.dumps(args)], env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"gateway turns failed ({done.returncode}): {done.stderr[-3000:]}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def history(self, session_key: str, timeout_s: float = 60) -> list[dict]:
        """The session's messages as the gateway shows them (``chat.history``): what commands answered too."""
        args = {"turns": [], "historyOf": session_key}
        done = subprocess.run([str(self.node), str(TURNS), str(self.package), json.dumps(args)], env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"chat.history failed ({done.returncode}): {done.stderr[-3000:]}")
        answer = json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"history"')))["history"]
        return answer.get("messages", []) if isinstance(answer, dict) else answer

    def cli(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
        """The ``openclaw`` CLI against this gateway's state dir."""
        return subprocess.run([str(self.node), str(self.package / "openclaw.mjs"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        try:  # children the gateway spawned (its spawn broker) go with the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
