"""A precision corpus: real model code that `torch.jit.script` accepts (tests/test_corpus.py)."""
