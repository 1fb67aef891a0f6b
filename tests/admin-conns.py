#!/usr/bin/env python3
"""Admin-endpoint connection attacks for tests/integration/hardening-admin.sh
(issue 15 finding 4); plain sockets, standard library only.
   conns.py idle PORT N SECONDS      open N idle connections, hold them, close
   conns.py slowloris PORT N SECONDS N connections sending one header line every 4 s
   conns.py evict PORT N             N idle connections, then one more: prints "ok" when
                                     the oldest is closed by labd within 2 s"""
import socket, sys, time

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def main():
    mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(port))
        except OSError:
            pass
    if mode == "idle":
        time.sleep(float(sys.argv[4]))
    elif mode == "slowloris":
        end = time.time() + float(sys.argv[4])
        for s in socks:
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
        i = 0
        while time.time() < end:
            time.sleep(min(4, max(0, end - time.time())))
            for s in socks:
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % i)
                except OSError:
                    pass
            i += 1
    elif mode == "evict":
        time.sleep(0.5)
        socks.append(connect(port))
        s = socks[0]
        s.settimeout(2)
        try:
            data = s.recv(100)
            print("ok" if data == b"" else "answered")
        except socket.timeout:
            print("hang")
        except ConnectionResetError:
            print("ok")
    for s in socks:
        s.close()

main()
