"""A light Streamlit session for load measurements: the browser's protocol without the browser.

It speaks to `/_stcore/stream` as the web page does (protobuf BackMsg out, ForwardMsg in): asks for a
page, waits until the server has finished the script run, and while it stays on the page asks for the
fragment refreshes the page declares (`run_every`), as an open browser tab would. What it measures is
the server's share of drawing a page, which is what many users on one server compete for; the
browser's own rendering happens on each user's machine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

FINISHED = ForwardMsg.ScriptFinishedStatus
WHOLE_RUN_ENDS = {FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_WITH_COMPILE_ERROR}
FRAGMENT_RUN_ENDS = WHOLE_RUN_ENDS | {FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass
class PageVisit:
    """One page opened and kept open: how long the server took to draw it and to refresh its fragments."""

    page: str
    drawn_s: float = 0.0
    elements: int = 0
    exceptions: int = 0
    refreshes_s: list[float] = field(default_factory=list)


class StreamSession:
    """One user's session on the app at `url` (http://host:port)."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        self._socket = None

    async def __aenter__(self) -> StreamSession:
        self._socket = await connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=120)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._socket.close()

    async def _run(self, page: str, fragment_id: str = "") -> tuple[float, list[ForwardMsg]]:
        back = BackMsg()
        back.rerun_script.page_name = page
        back.rerun_script.query_string = ""
        if fragment_id:
            back.rerun_script.fragment_id = fragment_id
            back.rerun_script.is_auto_rerun = True
        started = time.perf_counter()
        await self._socket.send(back.SerializeToString())
        ends, received = FRAGMENT_RUN_ENDS if fragment_id else WHOLE_RUN_ENDS, []
        while True:
            message = ForwardMsg()
            message.ParseFromString(await self._socket.recv())
            received.append(message)
            if message.WhichOneof("type") == "script_finished" and message.script_finished in ends:
                return time.perf_counter() - started, received

    async def visit(self, page: str, stay_s: float = 0.0) -> PageVisit:
        """Open `page`, then stay `stay_s` seconds, asking for each fragment refresh when it falls due."""
        drawn_s, received = await self._run(page)
        visit = PageVisit(page, drawn_s)
        timers: dict[str, float] = {}
        for message in received:
            kind = message.WhichOneof("type")
            if kind == "page_not_found":
                raise LookupError(f"the app has no page {page!r}")
            if kind == "delta":
                visit.elements += 1
                if message.delta.new_element.WhichOneof("type") == "exception":
                    visit.exceptions += 1
            elif kind == "auto_rerun":
                timers[message.auto_rerun.fragment_id] = message.auto_rerun.interval
        leave = time.perf_counter() + stay_s
        due = {fragment: time.perf_counter() + interval for fragment, interval in timers.items()}
        while due and (wake := min(due.values())) < leave:
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))
            fragment = min(due, key=due.__getitem__)
            took, _ = await self._run(page, fragment)
            visit.refreshes_s.append(took)
            due[fragment] = time.perf_counter() + timers[fragment]
        await asyncio.sleep(max(0.0, leave - time.perf_counter()))
        return visit
