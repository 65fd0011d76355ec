"""The screen's update timer, with Textual's frame pacing minus one skipped slot.

Textual draws a screen from a 60 fps timer that is paused between frames and resumed when
something needs drawing. After a pause the resumed timer ticks at once, which is late for its
slot, and Textual then moves to ``int(late / period + 1)`` slots, i.e. the slot after the next
one: the following frame waits 16.7-33.4 ms (25 on average) instead of up to 16.7 ms. A pod's
DELETED 10 ms after its Terminating frame waited there (traced: drained at 22.7 ms, drawn at
51.8 ms). ``FrameTimer`` moves to the next slot; everything else is Textual's ``Timer``.
"""

from __future__ import annotations

from textual import _time
from textual._time import sleep
from textual.timer import EventTargetGone, Timer


def slots_passed(start: float, period: float, now: float) -> int:
    """Slots of ``period`` from ``start`` that began by ``now``: the next one begins within one
    period from ``now``."""
    return int((now - start) / period)


class FrameTimer(Timer):
    async def _run(self) -> None:
        count = 0
        period = self._interval
        await self._active.wait()
        start = _time.get_time()
        while self._repeat is None or count <= self._repeat:
            next_timer = start + (count + 1) * period
            now = _time.get_time()
            if self._skip and next_timer < now:
                count = slots_passed(start, period, now)
                continue
            await sleep(max(0.0, next_timer - now))
            count += 1
            await self._active.wait()
            if self._reset:
                start, count, self._reset = _time.get_time(), 0, False
                continue
            try:
                await self._tick(next_timer=next_timer, count=count)
            except EventTargetGone:
                break
