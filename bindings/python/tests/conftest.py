"""Makes the package importable from the source tree (bindings/python) without installing it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
