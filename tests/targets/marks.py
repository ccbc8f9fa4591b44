"""The "# @name" markers of a target's source: the lines a test looks at."""

import re


def markers(path):
    """{name: line number} of every line of path that ends in "  # @name"."""
    lines = {}
    with open(path) as f:
        for no, text in enumerate(f, 1):
            m = re.search(r"  # @(\w+)", text)
            if m:
                lines[m.group(1)] = no
    return lines
