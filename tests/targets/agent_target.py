"""A target for the agent's tests: NAME COUNT [SIZE].

Defines a function called NAME that allocates COUNT bytearrays of SIZE bytes (10000 by
default) and keeps them; it runs on "go" from stdin, then prints DONE, and exits when stdin
closes.  Each process gets its own function name and amount, so that a mixed-up profile shows.
"""
import sys

name, count = sys.argv[1], int(sys.argv[2])
size = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
keep = []
exec(f"def {name}(n, size):\n    for _ in range(n):\n        keep.append(bytearray(size))\n")
work = globals()[name]
print("READY", flush=True)
for line in sys.stdin:
    if line.strip() == "go":
        work(count, size)
        print("DONE", flush=True)
