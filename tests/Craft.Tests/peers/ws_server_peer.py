"""An independent WebSocket server (Debian's python3-websockets) for Craft's client tests.

Usage: ws_server_peer.py. Listens on 127.0.0.1 on a free port and prints the port; then prints
one line per connection that ends: "closed PATH CODE". Paths:
  /echo        every message back, text as text and binary as binary
  /headers     first sends the request's X-Test header, then echoes
  /fragments   sends one message in three fragments, then echoes
  /bye         sends "bye", then closes with 4001 "peer bye"
  /big         sends a binary message of 200000 bytes
"""

import asyncio
import sys

import websockets


async def handler(ws, path=None):
    path = path if path is not None else ws.path
    try:
        if path == "/headers":
            await ws.send(ws.request_headers.get("X-Test", ""))
        elif path == "/fragments":
            await ws.send(["frag", "men", "ted"])
        elif path == "/bye":
            await ws.send("bye")
            await ws.close(4001, "peer bye")
        elif path == "/big":
            await ws.send(b"\x01" * 200000)
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    finally:
        print("closed", path, ws.close_code, flush=True)


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = list(server.sockets)[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
