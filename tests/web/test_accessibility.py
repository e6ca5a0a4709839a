"""axe-core (axe-playwright-python) on every kind of page of the web channel: no serious or
critical violation of WCAG 2.1 A/AA rules. And the reflow criterion (1.4.10): at 320 CSS pixels
wide, which is 1280 pixels at 400 % zoom (or 640 at 200 %), nothing scrolls sideways."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.web.conftest import Site
from tests.web.flow import answer_one, is_long_list, page_kind, question, start, submit

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def serious_violations(page: Any) -> list[str]:
    axe_module = pytest.importorskip("axe_playwright_python.async_playwright")
    results = await axe_module.Axe().run(
        page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


async def no_sideways_scroll(page: Any) -> bool:
    result: bool = await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )
    return result


async def test_every_kind_of_page_passes_axe_and_reflows(site: Site, browser: Any) -> None:
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    problems: dict[str, list[str]] = {}
    sideways: list[str] = []

    async def check(name: str) -> None:
        found = await serious_violations(page)
        if found:
            problems[name] = found
        await page.set_viewport_size({"width": 320, "height": 640})
        if not await no_sideways_scroll(page):
            sideways.append(name)
        await page.set_viewport_size({"width": 1280, "height": 900})

    await page.goto(site.url + "/")
    await check("landing")
    await start(page, site.url)
    seen: set[str] = set()
    for _ in range(60):
        if await page_kind(page) == "review":
            break
        _qid, qtype = await question(page)
        if await is_long_list(page):
            qtype = f"long list:{qtype}"
        if qtype not in seen:
            seen.add(qtype)
            await check(f"question:{qtype}")
        await answer_one(page)
    assert {"consent", "single_choice", "scale", "multi_choice", "ranking", "text"} <= seen
    assert {"long list:single_choice", "long list:multi_choice"} <= seen
    # a refused answer: the error notice and the invalid field
    await check("review")
    await submit(page)
    assert await page_kind(page) == "receipt"
    await check("receipt")
    await page.goto(site.url + "/nowhere")
    await check("error page")
    site.clock.now = site.survey.closes_at + timedelta(days=1)
    await page.goto(site.url + "/c")
    assert await page_kind(page) == "closed"
    await check("closed")
    await page.goto(site.url + "/")
    await check("landing, closed")
    assert problems == {}
    assert sideways == []


async def test_a_refused_answer_is_announced_and_its_field_marked(site: Site, browser: Any) -> None:
    page = await browser.new_page(locale="fr-FR")
    await start(page, site.url)
    for _ in range(10):
        _qid, qtype = await question(page)
        if qtype == "number":
            break
        await answer_one(page)
    assert (await question(page))[1] == "number"
    await page.fill("#answer", "beaucoup")
    async with page.expect_navigation():
        await page.click('button[value="text"]')
    assert await page.get_attribute("#notices", "role") == "alert"
    assert await page.get_attribute("#answer", "aria-invalid") == "true"
    assert "notices" in (await page.get_attribute("#answer", "aria-describedby") or "")
    assert await page.input_value("#answer") == "beaucoup"  # what was typed is not lost
    assert await page.evaluate("document.activeElement.id") == "answer"
    assert await serious_violations(page) == []
