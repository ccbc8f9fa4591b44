"""An import-heavy start: tens of thousands of distinct allocation stacks in a second or two.

Prints "EXTRA <bytes a buffer asks for beyond its length>" (oracle.py), imports a batch of
standard-library modules, then holds HELD bytes on the marked line and exits with os._exit,
so that nothing it allocated is freed by interpreter shutdown.

    python importer.py
"""

import os

from oracle import buffer_extra

MODULES = ["email.parser", "json", "http.client", "asyncio", "decimal", "unittest",
           "xml.dom.minidom", "argparse", "logging.handlers", "urllib.request", "sqlite3",
           "csv", "dataclasses", "typing", "inspect", "pydoc"]
HELD = 3_000_000

print("EXTRA %d" % buffer_extra(), flush=True)
for name in MODULES:
    __import__(name)
held = bytearray(HELD)  # @held
os._exit(0)
