"""tscheck's language server (`tscheck-lsp`, `python -m tscheck_server`)."""

__version__ = "0.1.0"
