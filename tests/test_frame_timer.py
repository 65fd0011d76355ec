"""The views' screen update timer: Textual's pacing, moving to the next frame slot after a late
tick (Textual moves to the one after it)."""

from __future__ import annotations

import random

from krkn_tui.tui.frame_timer import FrameTimer, slots_passed
from tui_support import SIZE, console

PERIOD = 1 / 60


def test_after_a_late_tick_the_next_slot_begins_within_one_period():
    rng = random.Random(7)
    for _ in range(10_000):
        start = rng.uniform(0, 1e6)
        now = start + rng.uniform(0, 3600)
        slot = start + (slots_passed(start, PERIOD, now) + 1) * PERIOD
        assert now < slot <= now + PERIOD + 1e-6, (start, now, slot)
    # Textual's own step, int(late / period + 1), lands one slot further on
    start, now = 0.0, 0.0212  # a tick 4.5 ms into its second slot
    assert start + (slots_passed(start, PERIOD, now) + 1) * PERIOD == 2 * PERIOD
    assert start + (int((now - start) / PERIOD + 1) + 1) * PERIOD == 3 * PERIOD


async def test_every_view_draws_from_the_frame_timer(tmp_path):
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("1", "2", "3", "4", "5", "6"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen._update_timer, FrameTimer), app.screen
            assert app.screen._update_timer in app.screen._timers
