#!/usr/bin/env python3
"""A fake NATS server that accepts connections and never answers (no INFO,
no PONG): issue 15 finding 2.  A real nats-server cannot be made to do this,
hence the fake.  Prints its port, then serves until killed.
   nats-silent.py [PORT]       (default: a port the kernel picks)"""
import select, socket, sys

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
held = []
while True:
    r, _, _ = select.select([srv] + held, [], [])
    for s in r:
        if s is srv:
            c, _ = srv.accept()
            held.append(c)
        else:
            try:
                data = s.recv(65536)  # read and ignore: never answer
            except OSError:
                data = b""
            if not data:
                held.remove(s)
                s.close()
