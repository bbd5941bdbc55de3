"""A tiny WebSocket client for the lab's tests, run inside a lab host:

    tests/lab/lab exec gateway -- /usr/bin/python3 - HOST PORT PATH ORIGIN WAIT < wsprobe.py

Sends an RFC 6455 upgrade over TLS (certificate not verified) with the key
of the RFC's example, `Origin: ORIGIN` unless ORIGIN is `-`, then waits up
to WAIT seconds for a ping frame.  Prints:
    status CODE
    accept VALUE          (the Sec-WebSocket-Accept header, if any)
    ping SECONDS | no-ping
"""

import socket
import ssl
import sys
import time

host, port, path, origin, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], \
    float(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
raw = socket.create_connection((host, port), timeout=10)
s = ctx.wrap_socket(raw, server_hostname=host)
req = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
       "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "Sec-WebSocket-Version: 13"]
if origin != "-":
    req.append("Origin: %s" % origin)
s.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
head, _, rest = buf.partition(b"\r\n\r\n")
lines = head.decode("latin1").split("\r\n")
print("status %s" % lines[0].split()[1])
for line in lines[1:]:
    k, _, v = line.partition(":")
    if k.strip().lower() == "sec-websocket-accept":
        print("accept %s" % v.strip())
if not lines[0].split()[1] == "101" or wait <= 0:
    sys.exit(0)
start = time.monotonic()
s.settimeout(0.2)
while time.monotonic() - start < wait:
    try:
        chunk = s.recv(4096)
    except (socket.timeout, ssl.SSLWantReadError):
        continue
    if not chunk:
        break
    rest += chunk
    while len(rest) >= 2:
        opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
        if len(rest) < 2 + length:
            break
        if opcode == 0x9:
            print("ping %.2f" % (time.monotonic() - start))
            sys.exit(0)
        rest = rest[2 + length:]
print("no-ping")
