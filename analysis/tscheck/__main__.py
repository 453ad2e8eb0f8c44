"""`python -m tscheck`: the same as the `tscheck` command."""

from tscheck.cli import main

raise SystemExit(main())
