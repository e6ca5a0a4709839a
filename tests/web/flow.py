"""Answering the bundled consultation in a browser page, as a participant would: the first
option of each choice (3 on a scale), a plausible typed answer, until the review."""

from __future__ import annotations

from typing import Any

TYPED = {
    "number": "2010",
    "email": "participant@example.org",
    "text": "Plus de <b>moyens</b> & de suivi",
    "other": "autre chose",
}


async def page_kind(page: Any) -> str:
    classes: str = await page.get_attribute("body", "class") or ""
    return classes.removeprefix("page-")


async def question(page: Any) -> tuple[str, str]:
    section = page.locator("section.current")
    return (
        await section.get_attribute("data-question") or "",
        await section.get_attribute("data-type") or "",
    )


async def targets(page: Any) -> list[tuple[str, str]]:
    """What to do on the current question: ("type", text) then ("press", button selector)."""
    _qid, qtype = await question(page)
    if qtype in TYPED:
        return [("type", TYPED[qtype]), ("press", 'button[value="text"]')]
    options = page.locator("fieldset.options button")
    if qtype == "consent":
        return [("press", "fieldset.options button.primary")]
    if qtype == "scale":
        return [("press", 'fieldset.options button[value$=":3"]')]
    if qtype == "single_choice":
        return [("press", "fieldset.options button >> nth=0")]
    count = 1 if qtype == "multi_choice" else 3
    assert await options.count() > count
    steps = [("press", f"fieldset.options button >> nth={i}") for i in range(count)]
    return [*steps, ("press", "fieldset.options button.primary")]


async def answer_one(page: Any) -> None:
    """Answer the question on screen with the mouse (clicks) and the keyboard (typing)."""
    for what, target in await targets(page):
        if what == "type":
            await page.fill("#answer", target)
        else:
            async with page.expect_navigation():
                await page.click(target)


async def answer_until_review(page: Any, *, limit: int = 60) -> int:
    """Answer question after question until the review; returns how many screens it took."""
    for screens in range(limit):
        if await page_kind(page) == "review":
            return screens
        assert await page_kind(page) == "question", await page.content()
        await answer_one(page)
    raise AssertionError("the review never came")


async def start(page: Any, url: str) -> None:
    await page.goto(url + "/")
    async with page.expect_navigation():
        await page.click("form.start button")
    assert await page_kind(page) == "question"


async def submit(page: Any) -> None:
    async with page.expect_navigation():
        await page.click(".nav button.primary")
