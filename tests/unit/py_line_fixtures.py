#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Ground truth for py_line_for(): what each CPython says a lasti's line is.

Two modes:

  py_line_fixtures.py --part
      Run under one target interpreter (3.8+).  Compiles a varied sample, walks
      every code object and prints JSON: the raw line table, co_firstlineno and,
      for every lasti in the BPF encoding, the answer of the interpreter's own
      PyCode_Addr2Line() (the function tracebacks and f_lineno use), called
      through ctypes.  The pure-Python views (dis.findlinestarts, co_lines,
      co_positions) are compared too, and disagreements are counted.

  py_line_fixtures.py -o OUT.h [ROOT:]PYTHON...
      Runs --part under each PYTHON (chrooted into ROOT if given: Debian sid's
      builds) and writes one C header of arrays.  Any missing or failing
      interpreter is a hard error.
"""

import ctypes
import dis
import json
import os
import subprocess
import sys

# lasti values just past the end of co_code that are checked as well.
PAST = 4


def long_function():
    """A function longer than 255 lines with wide gaps and backward jumps."""
    out = ["def long_func(n, items):", "    total = 0"]
    for i in range(300):
        if i % 7 == 3:
            out.append("")
        elif i % 11 == 5:
            out.append("    # filler comment %d" % i)
        else:
            out.append("    total += n * %d + len(items)" % i)
    # A loop whose body spans 300 lines: the jump back lands far above.
    out.append("    for it in items:")
    for i in range(300):
        out.append("        total -= it + %d" % i if i % 5 else "")
    out.append("    while total > 10 ** 6:")
    out.append("        total //= 3")
    # A with block spanning 300 lines: __exit__ runs on the `with` line.
    out.append("    with open(os.devnull) as fh:")
    for i in range(300):
        out.append("        total += len(fh.name) + %d" % i if i % 3 else "        pass")
    # try/finally spanning 300 lines; the finally body is duplicated.
    out.append("    try:")
    for i in range(300):
        out.append("        total ^= %d" % i)
    out.append("    finally:")
    out.append("        total += 1")
    # 500 lines with no code at all, then more code.
    out.extend("    # gap %d" % i for i in range(500))
    out.append("    total += 2")
    # A call whose arguments span 300 lines: the call is a jump back.
    out.append("    total += max(")
    out.extend("        n + %d," % i for i in range(300))
    out.append("    )")
    out.append("    return total")
    return "\n".join(out) + "\n"


def long_lines():
    """Lines with hundreds of instructions and columns past 255."""
    calls = ", ".join("f(%d)" % i for i in range(400))
    pad = "x" * 3000
    return (
        "def long_lines(f):\n"
        "    values = [" + calls + "]\n"
        "    s = '" + pad + "'; t = len(s) + f(len(values))\n"
        "    return values, s, t\n"
    )


SAMPLE = '''\
import os
import functools


def deco(tag):
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*a, **kw):
            return fn(*a, **kw)
        return inner
    return wrap


@deco(
    "multi-line decorator"
)
def decorated(a, b=lambda x: x + 1,
              *rest, c=None, **kw):
    sq = [i * i
          for i in range(a)
          if i % 2]
    d = {k: v for k, v in kw.items()}
    s = {x for x in rest}
    g = (y
         for y in sq)
    return b(a) if c is None else (
        c + sum(g) + len(d) + len(s))


class Thing:
    """Doc."""
    attr = [n for n in range(3)]

    def __init__(self, v):
        self.v = v

    @property
    def double(self):
        return self.v * 2

    @staticmethod
    def helper(x):
        def nested(y):
            nonlocal x
            x += y
            return x
        return nested


def gen(n):
    for i in range(n):
        try:
            yield i
        except ValueError:
            continue
        else:
            pass
        finally:
            n -= 1
    yield from range(3)


async def agen(it):
    async with it as value:
        async for v in value:
            await v
    return [w async for w in it]


def exceptions(x):
    try:
        try:
            x = 1 / x
        except (ZeroDivisionError,
                TypeError) as exc:
            raise RuntimeError(
                "bad") from exc
        else:
            return x
    except RuntimeError:
        return None
    finally:
        x = None


def control(seq):
    total = 0
    i = 0
    while i < len(seq):
        if seq[i] < 0:
            break
        elif seq[i] == 0:
            i += 1
            continue
        total += seq[i]
        i += 1
    else:
        total = -total
    assert total != 12345, "never"
    del i
    if (y := total) > 3 and \\
            y < 100:
        return f"{y!r:>10} {total}"
    return 1 < total < 5, [*seq], {**{}}


def closures():
    funcs = []
    for k in range(3):
        funcs.append(lambda k=k: k * 2)
    return [f() for f in funcs]


def jumps_backward(a):
    return (a +
            1) * (a
                  - 2) + (
        a)


x = decorated(3)
y = [
    z
    for z in range(2)
]
'''

# Syntax that only newer interpreters compile.
EXTRA = [
    ((3, 10), '''
def matcher(cmd):
    match cmd:
        case [x, y, *rest] if x > y:
            return rest
        case {"k": v}:
            return v
        case Thing(v=3) | None:
            return 3
        case _:
            return None
'''),
    ((3, 11), '''
def groups():
    caught = []
    try:
        raise ExceptionGroup("g", [ValueError(1), TypeError(2)])
    except* ValueError as e:
        caught.append(e)
    except* TypeError:
        pass
    return caught
'''),
    ((3, 12), '''
def generic[T](x: T) -> list[T]:
    type Alias = list[T]
    return [x, f"{f"{x}"}"]
'''),
]

# Real-world code from the interpreter's own library.
STDLIB = ["textwrap", "json.decoder", "contextlib"]


def sources():
    yield "<py_line_sample>", SAMPLE + long_function() + long_lines()
    for ver, src in EXTRA:
        if sys.version_info >= ver:
            yield "<py_line_extra_%d_%d>" % ver, src
    for name in STDLIB:
        mod = __import__(name, fromlist=["_"])
        with open(mod.__file__, encoding="utf-8") as fh:
            yield mod.__file__, fh.read()


def walk(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from walk(const)


def table_of(code):
    if sys.version_info < (3, 10):
        return code.co_lnotab
    return code.co_linetable


def replace_table(code, table):
    if sys.version_info < (3, 10):
        return code.replace(co_lnotab=table)
    return code.replace(co_linetable=table)


# Bytes per lasti step in the BPF encoding, and per code unit.
UNIT = 1 if sys.version_info < (3, 10) else 2

_addr2line = ctypes.pythonapi.PyCode_Addr2Line
_addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
_addr2line.restype = ctypes.c_int


def interp_lines(code):
    """PyCode_Addr2Line() for lasti 0 .. n+PAST-1, and for lasti -1."""
    n = len(code.co_code) // UNIT
    lines = [_addr2line(code, lasti * UNIT) for lasti in range(n + PAST)]
    return n, lines, _addr2line(code, -UNIT)


def python_view(code, n):
    """The same answers as the pure-Python APIs give them (in range only)."""
    if sys.version_info < (3, 10):
        starts = list(dis.findlinestarts(code))
        out = []
        for off in range(n):
            line = code.co_firstlineno
            for start, ln in starts:
                if start <= off:
                    line = ln
            out.append(line)
        return out
    out = [-1] * n
    for start, end, line in code.co_lines():
        for b in range(start, end, UNIT):
            if b // UNIT < n:
                out[b // UNIT] = -1 if line is None else line
    return out


def positions_view(code, n):
    if not hasattr(code, "co_positions"):
        return None
    out = [-1 if p[0] is None else p[0] for p in code.co_positions()]
    return out if len(out) == n else None


def cut_points(table):
    """Entry boundaries where the interpreter itself stays inside the table."""
    if sys.version_info < (3, 10):
        return list(range(0, len(table), 2))
    if sys.version_info < (3, 11):
        # 3.10 keeps reading past a trailing zero-length pair, so avoid those.
        return [i for i in range(0, len(table), 2) if i == 0 or table[i - 2]]
    return [i for i in range(len(table)) if table[i] & 128]


def truncated(code):
    """A few prefixes of the table, cut on entry boundaries."""
    table = table_of(code)
    cuts = cut_points(table)
    picks = sorted({cuts[len(cuts) * k // 4] for k in range(4)}) if cuts else []
    for cut in picks:
        yield cut, replace_table(code, table[:cut])


def record(name, code, stats, whole=True):
    n, lines, neg = interp_lines(code)
    stats["cases"] += n + PAST + 1
    if whole:
        stats["no_line"] += sum(1 for ln in lines[:n] if ln < 0)
    return {
        "name": name,
        "table": table_of(code).hex(),
        "first": code.co_firstlineno,
        "ncode": n,
        "lines": lines,
        "neg": neg,
        "cut": not whole,
    }


def part():
    stats = {"cases": 0, "no_line": 0, "py_mismatch": 0, "pos_checked": 0,
             "pos_mismatch": 0}
    codes = []
    for fname, src in sources():
        for code in walk(compile(src, fname, "exec")):
            name = "%s:%d:%s" % (os.path.basename(fname), code.co_firstlineno,
                                 getattr(code, "co_qualname", code.co_name))
            rec = record(name, code, stats)
            n, lines = rec["ncode"], rec["lines"][:rec["ncode"]]
            stats["py_mismatch"] += sum(
                a != b for a, b in zip(lines, python_view(code, n)))
            pos = positions_view(code, n)
            if pos is not None:
                stats["pos_checked"] += n
                stats["pos_mismatch"] += sum(a != b for a, b in zip(lines, pos))
            codes.append(rec)
            if len(table_of(code)) >= 16 and code.co_firstlineno % 3 == 0:
                for cut, short in truncated(code):
                    codes.append(record("%s[:%d]" % (name, cut), short, stats, False))
    v = sys.version_info
    json.dump({"version": "%d.%d.%d" % v[:3], "minor": v[1], "codes": codes,
               "stats": stats}, sys.stdout)


def c_array(ctype, name, values, fmt):
    body = ""
    for i in range(0, len(values), 16):
        body += "\t" + ", ".join(fmt % x for x in values[i:i + 16]) + ",\n"
    if not values:
        body = "\t0,\n"  # placeholder; lengths are stored explicitly
    return "static const %s %s[] = {\n%s};\n" % (ctype, name, body)


def c_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


HEAD = """\
/* Generated by tests/unit/py_line_fixtures.py from %s; do not edit. */
#ifndef PY_LINE_FIXTURES_H
#define PY_LINE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* lines[] also holds the answers for lasti = ncode .. ncode + PAST - 1. */
#define PY_LINE_FIX_PAST %d

struct py_line_fix_code {
	const char *name;
	const uint8_t *table;
	size_t len;
	int firstlineno;
	uint32_t ncode;		/* lasti values inside co_code */
	int neg_line;		/* answer for lasti == -1 */
	int truncated;		/* table cut short on purpose */
	const int *lines;	/* PyCode_Addr2Line() for each lasti */
};

struct py_line_fix_ver {
	const char *name;
	int minor;
	const struct py_line_fix_code *codes;
	size_t ncodes;
};

"""


def emit(data, out, index):
    tag = "v%d_%d" % (data["minor"], index)
    entries = []
    for i, c in enumerate(data["codes"]):
        table = list(bytes.fromhex(c["table"]))
        out.write(c_array("uint8_t", "%s_t%d" % (tag, i), table, "0x%02x"))
        out.write(c_array("int", "%s_l%d" % (tag, i), c["lines"], "%d"))
        entries.append("\t{ %s, %s_t%d, %d, %d, %d, %d, %d, %s_l%d },\n" % (
            c_string(c["name"]), tag, i, len(table), c["first"], c["ncode"],
            c["neg"], c["cut"], tag, i))
    out.write("static const struct py_line_fix_code %s_codes[] = {\n%s};\n\n"
              % (tag, "".join(entries)))
    return "\t{ \"fixtures %s\", %d, %s_codes, %d },\n" % (
        data["version"], data["minor"], tag, len(entries))


def command(spec):
    """(argv, stdin) running --part under PYTHON, or ROOT:PYTHON for an interpreter in a root
    of its own (run chrooted, with this script on its stdin)."""
    root, _, py = spec.rpartition(":")
    if not os.access(root + py, os.X_OK):
        sys.exit("py_line_fixtures: interpreter %s is missing" % (root + py))
    if not root:
        return [py, os.path.abspath(__file__), "--part"], None
    with open(os.path.abspath(__file__), "rb") as f:
        return ["chroot", root, py, "-", "--part"], f.read()


def drive(out_path, pythons):
    runs = [command(py) for py in pythons]
    parts = []
    for argv, script in runs:
        res = subprocess.run(argv, input=script, stdout=subprocess.PIPE, check=True)
        data = json.loads(res.stdout)
        st = data["stats"]
        print("py_line_fixtures: %s: %d codes, %d cases, %d with no line, "
              "%d disagree with co_lines/findlinestarts, %d of %d with co_positions"
              % (data["version"], len(data["codes"]), st["cases"], st["no_line"],
                 st["py_mismatch"], st["pos_mismatch"], st["pos_checked"]),
              file=sys.stderr)
        parts.append(data)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as out:
        out.write(HEAD % (os.path.basename(__file__), PAST))
        index = "".join(emit(d, out, i) for i, d in enumerate(parts))
        out.write("#define PY_LINE_FIX_NVERS %d\n" % len(parts))
        out.write("static const struct py_line_fix_ver py_line_fix_vers[] = {\n%s};\n\n"
                  % index)
        out.write("#endif /* PY_LINE_FIXTURES_H */\n")
    os.replace(tmp, out_path)


def main(argv):
    if argv[1:] == ["--part"]:
        part()
    elif len(argv) > 3 and argv[1] == "-o":
        drive(argv[2], argv[3:])
    else:
        sys.exit("usage: %s --part | -o OUT.h [ROOT:]PYTHON..." % argv[0])


if __name__ == "__main__":
    main(sys.argv)
