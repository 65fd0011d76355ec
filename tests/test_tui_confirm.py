"""The confirm dialog's late detail: the blast radius arrives from a worker thread at any moment."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Static

from krkn_tui.tui.screens.confirm import ConfirmScreen


class AnswerBeforeMount(ConfirmScreen):
    """The answer lands after compose has built the widgets and before they are mounted: the
    window a fast worker hits when the cluster refuses at once."""

    def compose(self):
        yield from super().compose()
        self.set_detail("Blast radius: 3 pods")


async def shown_detail(screen: ConfirmScreen, pilot) -> str:
    await pilot.pause()
    return str(screen.query_one("#confirm-detail", Static).render())


async def test_an_answer_between_compose_and_mount_is_shown():
    app = App()
    async with app.run_test() as pilot:
        screen = AnswerBeforeMount("Run?", "body", detail="Blast radius: reading the cluster…")
        await app.push_screen(screen)
        assert await shown_detail(screen, pilot) == "Blast radius: 3 pods"


async def test_an_answer_after_mount_replaces_the_first_text():
    app = App()
    async with app.run_test() as pilot:
        screen = ConfirmScreen("Run?", "body", detail="Blast radius: reading the cluster…")
        await app.push_screen(screen)
        assert await shown_detail(screen, pilot) == "Blast radius: reading the cluster…"
        screen.set_detail("Blast radius: cannot read the cluster: connection refused")
        assert await shown_detail(screen, pilot) == "Blast radius: cannot read the cluster: connection refused"
