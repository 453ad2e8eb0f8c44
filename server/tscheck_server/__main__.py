"""`tscheck-lsp` / `python -m tscheck_server`: the language server over stdio (or TCP)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tscheck-lsp", description="TorchScript compatibility checker: language server"
    )
    parser.add_argument(
        "--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (for debugging)"
    )
    parser.add_argument("--log-file", metavar="PATH", help="write the server's own log here")
    opts = parser.parse_args(argv)
    if opts.log_file:
        logging.basicConfig(filename=opts.log_file, level=logging.INFO)

    from tscheck_server.server import create_server

    server = create_server()
    if opts.tcp:
        host, _, port = opts.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
