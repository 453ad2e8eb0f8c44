"""A recall corpus: realistic models with TorchScript mistakes (answer key: tests/test_corpus.py BROKEN)."""
