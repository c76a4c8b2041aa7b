"""An independent WSS client (Debian's python3-websockets and Python's ssl) for Craft's TLS tests.

Usage: wss_peer.py PORT CAFILE. Connects to wss://127.0.0.1:PORT/ trusting only CAFILE (the test's
self-signed certificate), sends a text and a binary message and checks their echoes, then closes.
Prints "ok TLSVERSION" and exits 0 when everything held; raises (exit 1) otherwise.
"""

import asyncio
import ssl
import sys

import websockets


async def main(port: int, cafile: str) -> None:
    context = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(f"wss://127.0.0.1:{port}/", ssl=context) as ws:
        await ws.send("hello over tls")
        assert await ws.recv() == "hello over tls", "text echo"
        await ws.send(b"\x00\xff" * 35000)
        assert await ws.recv() == b"\x00\xff" * 35000, "binary echo"
        version = ws.transport.get_extra_info("ssl_object").version()
        await ws.close(code=1000, reason="bye")
    print("ok " + version)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
