"""Run one tree's instruction-count workloads; meant to run under

    valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no python THIS.py TREE OUT.json [K_EXPR]

with the tree's folder first on PYTHONPATH (bench/gate/command.py does all this). It imports
TREE's tests/benchmarks/callgrind_workloads.py and, per workload, builds it, starts
callgrind's instrumentation, warms up, counts `number` calls between two collection toggles
and dumps them as one callgrind part file. OUT.json lists which part holds which workload.
It imports nothing of bench/ (the base tree's bench would not have it), which is also why
it sits alone in this folder: bench/gate/command.py runs it by path.
"""
import ctypes
import gc
import json
import mmap
import os
import sys

import torch

# A valgrind client request is a marker instruction sequence that valgrind intercepts (and
# a CPU runs as a no-op): rax = &args, rdx = default, preamble `rol rdi` by 3/13/61/51,
# then `xchg rbx, rbx`; the result comes back in rdx. torch only wraps CALLGRIND's
# TOGGLE_COLLECT and DUMP_STATS; START_INSTRUMENTATION needs this, and lets valgrind run
# uninstrumented through Python start-up and `import torch` (about 35 s instead of 87 s on 2 cores).
_AMD64_REQUEST = bytes.fromhex("4889f8" "4889f2" "48c1c703" "48c1c70d" "48c1c73d" "48c1c733"
                               "4887db" "4889d0" "c3")  # mov rax,rdi; mov rdx,rsi; ...; ret
_START_INSTRUMENTATION = 0x43540000 + 4  # VG_USERREQ__START_INSTRUMENTATION (callgrind.h)
_RUNNING_ON_VALGRIND = 0x1001


def _client_request():
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_AMD64_REQUEST)
    fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint64)(
        ctypes.addressof(ctypes.c_char.from_buffer(page)))

    def request(code):
        return fn((ctypes.c_uint64 * 6)(code, 0, 0, 0, 0, 0), 0)
    request.page = page  # keep the code page alive
    return request


def selected(names, expr):
    """Names matching a pytest -k expression (the same selection as the wall-time suite)."""
    if not expr:
        return list(names)
    from _pytest.mark.expression import Expression
    compiled = Expression.compile(expr)
    return [n for n in names if compiled.evaluate(
        lambda ident, **kw: not kw and ident.lower() in f"instructions::{n}".lower())]


def main(tree, out, expr=""):
    tree = os.path.realpath(tree)
    torch.set_num_threads(1)
    import irn
    from tests.benchmarks.callgrind_workloads import WORKLOADS
    request = _client_request()
    if request(_RUNNING_ON_VALGRIND) == 0:
        sys.exit("callgrind_driver: not running under valgrind")
    # Build and warm up everything first, uninstrumented (valgrind without instrumentation
    # runs ~4x slower than native, with it ~50x), then instrument only the counted calls.
    # (Stopping instrumentation between workloads corrupts callgrind's later counts.)
    built = {}
    for name in selected(WORKLOADS, expr):
        fn, number = WORKLOADS[name]()
        fn(), fn()  # first calls allocate caches and pick kernels: not part of the count
        built[name] = fn, number
    request(_START_INSTRUMENTATION)
    parts = {}
    for part, (name, (fn, number)) in enumerate(built.items(), start=1):
        gc.collect()
        gc.disable()  # a collection inside the counted region would depend on the heap's past
        torch._C._valgrind_toggle()
        for _ in range(number):
            fn()
        torch._C._valgrind_toggle_and_dump_stats()  # stop counting, write part `part`
        gc.enable()
        parts[name] = dict(part=part, number=number)
    with open(out, "w") as f:
        json.dump(dict(irn_file=os.path.realpath(irn.__file__), tree=tree, parts=parts), f)
    os._exit(0)  # skip interpreter teardown: ~10 s under valgrind, and nothing is counted


if __name__ == "__main__":
    main(*sys.argv[1:])
