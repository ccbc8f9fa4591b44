"""What the allocator is asked for, as tracemalloc (the oracle) counts it, for ground truth that
differs between versions: a bytearray's buffer is n + 1 bytes up to 3.14, a bytes object
holding them (33 bytes more) from 3.15."""

import tracemalloc


def requested_bytes(make):
    """The bytes make() asks the allocator for and keeps."""
    tracemalloc.start()
    obj = make()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del obj
    return size


def buffer_extra(n=1024):
    """What the buffer of a bytearray(n) asks for beyond its n bytes."""
    return requested_bytes(lambda: bytearray(n)) - requested_bytes(bytearray) - n
