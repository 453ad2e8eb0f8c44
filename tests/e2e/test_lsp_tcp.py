"""`tscheck-lsp --tcp HOST:PORT` (for debugging a server an editor did not start): a client on a
socket gets the same protocol as over stdio: initialize, then diagnostics for an opened file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_lsp import MODEL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _receive(sock: socket.socket, buffer: bytearray) -> dict[str, Any]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        rest += chunk
    buffer[:] = rest[length:]
    message: dict[str, Any] = json.loads(rest[:length])
    return message


def test_tcp_server_answers_initialize_and_publishes(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tscheck_server", "--tcp", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        with sock:
            buffer = bytearray()
            _send(
                sock,
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
                },
            )
            answer = _receive(sock, buffer)
            assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "tscheck"
            _send(sock, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            uri = (tmp_path / "model.py").as_uri()
            _send(
                sock,
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uri,
                            "languageId": "python",
                            "version": 1,
                            "text": MODEL,
                        }
                    },
                },
            )
            while True:
                message = _receive(sock, buffer)
                if message.get("method") == "textDocument/publishDiagnostics":
                    break
            diagnostics = message["params"]["diagnostics"]
            assert [d["code"] for d in diagnostics] == ["TS101"]
            assert diagnostics[0]["range"]["start"] == {"line": 6, "character": 12}
            _send(sock, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
            while _receive(sock, buffer).get("id") != 2:
                pass
            _send(sock, {"jsonrpc": "2.0", "method": "exit"})
    finally:
        server.terminate()
        server.wait(10)
