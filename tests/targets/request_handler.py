"""A request-handler loop: the sampled-mode benchmark's second workload.

Each request decodes a JSON body, builds about 40 small objects from it, renders a string
template per item and encodes a JSON response.  Protocol as churn.py's: prints "READY <pid>",
waits for a line on stdin, runs the loop, prints "ELAPSED <seconds>" (the loop alone, timed
in-process), then waits for stdin to close.

    python request_handler.py [REQUESTS [HELD_MB]]

HELD_MB: before the loop, untimed, that many MB of small strings are made and kept, as a
service's heap is; sampled mode then holds their samples (a free's check finds more of its
buckets in use).
"""

import json
import sys

from protocol import serve_timed

TEMPLATE = "<li id='item-{id}' class='{kind}'>{name}: {qty} x {price:.2f} = {total:.2f}</li>"


class Item:
    __slots__ = ("id", "kind", "name", "qty", "price")

    def __init__(self, id, kind, name, qty, price):
        self.id, self.kind, self.name, self.qty, self.price = id, kind, name, qty, price


def make_body(i):
    items = [{"id": i * 40 + k, "kind": "k%d" % (k % 5), "name": "item %d of %d" % (k, i),
              "qty": k % 7 + 1, "price": (k * 13 % 97) / 4} for k in range(40)]
    return json.dumps({"request": i, "user": "user-%d" % (i % 100), "items": items})


def handle(body):
    req = json.loads(body)
    items = [Item(d["id"], d["kind"], d["name"], d["qty"], d["price"]) for d in req["items"]]
    rows = [TEMPLATE.format(id=it.id, kind=it.kind, name=it.name, qty=it.qty, price=it.price,
                            total=it.qty * it.price) for it in items]
    total = sum(it.qty * it.price for it in items)
    return json.dumps({"request": req["request"], "user": req["user"], "html": "".join(rows),
                       "count": len(items), "total": round(total, 2)})


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    held_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    bodies = [make_body(i) for i in range(50)]
    heap = []

    def hold():
        # 64-byte strings (a 15-character str object's block): held_mb MB of them
        heap.extend("%015d" % i for i in range(held_mb * (1 << 20) // 64))

    def work():
        for i in range(requests):
            handle(bodies[i % len(bodies)])
    serve_timed(work, hold)


if __name__ == "__main__":
    main()
