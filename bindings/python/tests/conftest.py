"""Makes the package importable from the source tree (bindings/python) without installing it.

With TRMDIS_TEST_INSTALLED=1 (make test) the suite runs against the installed package instead, and
test_installed.py checks that it is the installed copy, with the library inside it, that was imported.
"""

import os
import sys
from pathlib import Path

if os.environ.get("TRMDIS_TEST_INSTALLED") != "1":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
