"""A kernel client for headless runs that cannot miss a reply sitting in its socket (issue #28).

The stall behind issue #28: a headless smoke run sat with the kernel idle and nbclient idle, until the
cell's time limit, and then went on as if nothing had happened, with the cell's reply in hand. The
kernel had answered at once. The answer sat in the client's ZeroMQ socket, and the client's asyncio
wait never woke for it: a ZeroMQ socket tells an event loop about new messages through an
edge-triggered file descriptor, and an edge that is used up by another operation on the socket (a
send on the same socket, a look at its state) is not signalled again. pyzmq's asyncio ``poll`` looks
at the socket itself only when its timeout fires, so the wait lasted exactly as long as the
timeout nbclient gave it (the cell limit, 180 s in smoke mode). The same lost edge on the kernel's
side of the socket is ipython/ipykernel#1554 (fixed in ipykernel 7.4 by ipython/ipykernel#1529);
this is the client's side, which jupyter_client's own channel (8.10 here) does not guard against.

The cure is not to trust the edge alone: ``RecheckingChannel.get_msg`` waits in slices of
``RECHECK_SECONDS`` and looks at the socket after each, so a missed wake-up costs at most one slice
instead of the whole timeout. ``execute`` in ``kernels`` runs every notebook with it.
"""
from __future__ import annotations

import time
from queue import Empty

from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import DottedObjectName, Type

RECHECK_SECONDS = 0.5  # the longest a reply can wait unseen in the client's socket


class RecheckingChannel(AsyncZMQSocketChannel):
    """A shell or IOPub channel whose wait for a message looks at the socket every half second."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = RECHECK_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            # poll(0) asks the socket directly; a poll with a timeout also asks it when the timeout fires
            if await self.socket.poll(int(1000 * min(left, RECHECK_SECONDS))):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class RecheckingClient(AsyncKernelClient):
    shell_channel_class = Type(RecheckingChannel)
    iopub_channel_class = Type(RecheckingChannel)


class RecheckingKernelManager(AsyncKernelManager):
    """What nbclient starts kernels with in ``kernels.execute``: jupyter_client's, with our client."""

    client_class = DottedObjectName("course_lib.kernel_client.RecheckingClient")
    client_factory = Type(RecheckingClient, klass=AsyncKernelClient)
