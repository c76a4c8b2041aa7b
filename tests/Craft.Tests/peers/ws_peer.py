"""An independent WebSocket client (Debian's python3-websockets) for Craft's tests.

Usage: ws_peer.py PORT LIMIT. Talks to lua/ws/echo.lua (started with "protocols=chat"): checks
the subprotocol, echoes of every frame-length size, text and binary, a fragmented message, a ping,
the close with code and reason, and the close 1009 for a message over LIMIT. Prints "ok" and exits
0 when everything held; raises (exit 1) otherwise.
"""

import asyncio
import os
import sys

import websockets


async def main(port: int, limit: int) -> None:
    uri = f"ws://127.0.0.1:{port}/"
    async with websockets.connect(uri, subprotocols=["other", "chat"], max_size=None) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        await ws.send("!name python")
        for size in (0, 125, 126, 65535, 65536, limit):
            text = ("é" * size)[: size // 2] + "a" * (size - 2 * (size // 2))
            await ws.send(text)
            assert await ws.recv() == text, f"text of {len(text.encode())} bytes"
            data = os.urandom(size)
            await ws.send(data)
            assert await ws.recv() == data, f"binary of {size} bytes"

        await ws.send(["frag", "mented ", "mess", "age"])
        assert await ws.recv() == "fragmented message", "fragments joined"

        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)

        await ws.send("!count")
        assert await ws.recv() == str(2 * 6 + 1), "the ping was no message"

        await ws.close(code=4000, reason="python bye")
        assert ws.close_code == 4000, ws.close_code

    async with websockets.connect(uri, max_size=None) as ws:
        await ws.send("!name python-big")
        await ws.send(b"x" * (limit + 1))
        try:
            await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError("the server accepted a message over the limit")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009, closed

    print("ok")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
