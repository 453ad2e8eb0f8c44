from __future__ import annotations

import sys
from pathlib import Path

# The compiler harness lives next to the tests.
sys.path.insert(0, str(Path(__file__).parent))
