"""Answering the bundled consultation in a browser page, as a participant would: the first
option of each choice (3 on a scale), a plausible typed answer, until the review. On a long list,
the participant searches: "bretagne" for the region (the exact name is chosen at once), and for
the pôles "pole mer" (two results: the first is picked) then "aerospace valley", then confirms."""

from __future__ import annotations

from typing import Any

TYPED = {
    "number": "2010",
    "email": "participant@example.org",
    "organisation_id": "732 829 320 00074",
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


SEARCHES = {"region": ("bretagne",), "cluster_name": ("pole mer", "aerospace valley")}
"""What is searched on each long list of the bundled consultation, in order."""
LIST_OPTIONS = "fieldset.long-list .option-group:not(.other) button"


async def is_long_list(page: Any) -> bool:
    return await page.locator("section.current[data-long-list]").count() == 1


async def list_targets(page: Any, qid: str, qtype: str) -> list[tuple[str, str]]:
    """One step on a long list: search, pick a result, or (multi choice, enough chosen) confirm."""
    searches = SEARCHES[qid]
    results = await page.locator("button.full-list").count() == 1
    if qtype == "single_choice":
        if results:
            return [("press", f"{LIST_OPTIONS} >> nth=0")]
        return [("search", searches[0])]
    chosen = await page.locator("ul.chosen li").count()
    if chosen >= len(searches):
        return [("press", ".confirm button.primary")]
    if results:
        return [("press", f'{LIST_OPTIONS}[aria-pressed="false"] >> nth=0')]
    return [("search", searches[chosen])]


async def targets(page: Any) -> list[tuple[str, str]]:
    """What to do on the current question: ("type", text) then ("press", button selector), or
    ("search", text) on a long list."""
    qid, qtype = await question(page)
    if await is_long_list(page):
        return await list_targets(page, qid, qtype)
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
        elif what == "search":
            await page.fill("#search", target)
            async with page.expect_navigation():
                await page.click("form.search button")
        else:
            async with page.expect_navigation():
                await page.click(target)


async def answer_until_review(page: Any, *, limit: int = 80) -> int:
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
