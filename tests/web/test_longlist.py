"""Long lists in the browser: the 56 pôles of the bundled consultation in pages of 8 under their
region's heading, ◀ to the last page, a choice there and one found by a search, one removed, a
search that finds nothing (said, with the "other" choice, the text typed kept), back to the full
list, a button or a search from an older page refused; axe-clean on every state of the list."""

from __future__ import annotations

from typing import Any

from dialogs.longlist import ordered
from dialogs.model import QuestionType
from tests.web.conftest import Site
from tests.web.flow import LIST_OPTIONS, answer_one, question, start
from tests.web.test_accessibility import serious_violations


async def click(page: Any, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)


async def search(page: Any, text: str) -> None:
    await page.fill("#search", text)
    async with page.expect_navigation():
        await page.press("#search", "Enter")


async def labels(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in await page.locator(selector).all_inner_texts()]


async def test_paging_choosing_searching_and_removing_on_the_poles_list(
    site: Site, browser: Any
) -> None:
    pole = site.survey.by_id["cluster_name"]
    assert pole.type is QuestionType.MULTI_CHOICE
    poles = ordered(pole)
    page = await browser.new_page(locale="fr-FR")
    await start(page, site.url)
    # the region is a long list too: its exact name typed chooses it at once
    for _ in range(20):
        if (await question(page))[0] == "cluster_name":
            break
        await answer_one(page)
    assert (await question(page))[0] == "cluster_name"
    problems: dict[str, list[str]] = {}

    async def axe(name: str) -> None:
        found = await serious_violations(page)
        if found:
            problems[name] = found

    # the first page: 8 pôles under their region's heading, "page 1 of 7", nothing chosen yet
    assert await page.inner_text("nav.paging .page-status") == "Page 1 sur 7"
    assert await labels(page, LIST_OPTIONS) == [p.label.get("fr") for p in poles[:8]]
    assert await labels(page, ".group-heading") == ["Auvergne-Rhône-Alpes"]
    assert "Aucun choix" in await page.inner_text(".chosen-title")
    assert "Avancement" in await page.inner_text(".progress label")
    assert await page.get_attribute("progress#progress", "max") == "100"
    previous = await page.get_attribute(".page-previous", "aria-label")
    assert previous == "Page précédente (page 7 sur 7)"
    await axe("first page")

    # ◀ from the first page: the last page, with its regions' headings
    await click(page, ".page-previous")
    assert await page.inner_text("nav.paging .page-status") == "Page 7 sur 7"
    last = [p.label.get("fr") for p in poles[48:]]
    assert await labels(page, LIST_OPTIONS) == last
    headings = await labels(page, ".group-heading")
    assert headings == list(dict.fromkeys(p.group.get("fr") for p in poles[48:]))
    await click(page, f'{LIST_OPTIONS}:has-text("{last[-1]}")')
    assert (
        await page.get_attribute(f'{LIST_OPTIONS}:has-text("{last[-1]}")', "aria-pressed") == "true"
    )
    assert await labels(page, "ul.chosen .chosen-label") == [last[-1]]
    await axe("last page, one chosen")

    # a search: its results, "back to the full list"; one picked
    await search(page, "pole mer")
    assert "pole mer" in await page.inner_text("#list-status")
    results = await labels(page, LIST_OPTIONS)
    assert sorted(results) == ["Pôle Mer Bretagne Atlantique", "Pôle Mer Méditerranée"]
    assert await page.input_value("#search") == "pole mer"
    await axe("search results")
    await click(page, f'{LIST_OPTIONS}:has-text("Méditerranée")')
    assert sorted(await labels(page, "ul.chosen .chosen-label")) == sorted(
        ["Pôle Mer Méditerranée", last[-1]]
    )
    await click(page, "button.full-list")
    assert await page.locator("nav.paging .page-status").count() == 1

    # nothing found: said in the alert, the "other" choice offered, the text typed kept
    await search(page, "zzqx wwvy")
    notice = await page.inner_text("#notices")
    assert "Aucun résultat pour « zzqx wwvy »" in notice and "Autre" in notice
    assert await page.locator("fieldset.long-list .other button").inner_text() == "Autre (préciser)"
    assert await page.input_value("#search") == "zzqx wwvy"
    assert "notices" in (await page.get_attribute("#search", "aria-describedby") or "")
    assert await page.evaluate("document.activeElement.id") == "search"
    await axe("no match")

    # remove one of the two choices: its accessible name says which
    remove = page.locator('ul.chosen li:has-text("Pôle Mer Méditerranée") button')
    assert await remove.get_attribute("aria-label") == "Retirer Pôle Mer Méditerranée"
    async with page.expect_navigation():
        await remove.click()
    assert await labels(page, "ul.chosen .chosen-label") == [last[-1]]

    # a button and a search from an older page change nothing
    before = await page.inner_text("nav.paging .page-status")
    old_next = await page.get_attribute(".page-next", "value")
    old_step = await page.get_attribute("form.search input[name=step]", "value")
    await click(page, ".page-next")
    moved = await page.inner_text("nav.paging .page-status")
    assert moved != before
    await page.evaluate(f"document.querySelector('.page-next').value = '{old_next}'")
    await click(page, ".page-next")
    assert "ancien" in await page.inner_text("#notices")
    assert await page.inner_text("nav.paging .page-status") == moved
    await page.evaluate(
        f"document.querySelector('form.search input[name=step]').value = '{old_step}'"
    )
    await search(page, "pole mer")
    assert await page.locator("button.full-list").count() == 0
    assert await page.inner_text("nav.paging .page-status") == moved
    assert await labels(page, "ul.chosen .chosen-label") == [last[-1]]

    # confirm: the next question, the pôle chosen read back in the thread
    await click(page, ".confirm button.primary")
    assert (await question(page))[0] != "cluster_name"
    assert last[-1] in await page.inner_text(".thread")
    assert problems == {}


async def test_the_region_list_searched_with_javascript_disabled(site: Site, browser: Any) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="en-GB")
    page = await context.new_page()
    await start(page, site.url)
    for _ in range(20):
        if (await question(page))[0] == "region":
            break
        await answer_one(page)
    assert await page.inner_text("nav.paging .page-status") == "Page 1 of 3"
    # several results: offered, in English, with the way back to the whole list
    await search(page, "normandi")
    assert await labels(page, LIST_OPTIONS) == ["Normandy"]
    assert await page.inner_text("button.full-list") == "Back to the full list"
    await click(page, f"{LIST_OPTIONS} >> nth=0")
    assert (await question(page))[0] != "region"
    assert "Normandy" in await page.inner_text(".thread")
