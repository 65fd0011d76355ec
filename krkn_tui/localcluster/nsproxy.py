"""Carry the API server's loopback port into the real node's network namespace.

The control plane listens on the machine's 127.0.0.1 only; the node's namespace has a loopback
of its own. This process opens listening sockets inside the node's namespace (setns on this
thread, bind, setns back) and forwards each connection to the same port on the machine's
loopback, so the kubelet, kube-proxy and the policy agent use the cluster's kubeconfig as it is
(server https://127.0.0.1:PORT, whose certificate names 127.0.0.1), and the API server needs no
listener on any other address. A second listener on the node's own address is the `kubernetes`
Service's endpoint (the API server advertises it): pods reach the API through kube-proxy's rules.

    python -m krkn_tui.localcluster.nsproxy --netns FILE --port PORT [--address IP ...]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import socket

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listen_in(netns: str, port: int, address: str = "127.0.0.1") -> socket.socket:
    """A socket listening on address:port of the namespace bound at `netns`."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(128)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(socks: list[socket.socket], port: int) -> None:
    async def on_client(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    servers = [await asyncio.start_server(on_client, sock=sock) for sock in socks]
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="krkn_tui.localcluster.nsproxy")
    p.add_argument("--netns", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--address", action="append", help="listen on this address of the namespace (default 127.0.0.1)")
    args = p.parse_args(argv)
    addresses = args.address or ["127.0.0.1"]
    socks = [listen_in(args.netns, args.port, a) for a in addresses]
    print(f"forwarding {', '.join(f'{a}:{args.port}' for a in addresses)} in {args.netns} "
          f"to the machine's 127.0.0.1:{args.port}", flush=True)
    asyncio.run(serve(socks, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
