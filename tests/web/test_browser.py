"""The web channel in real Chromium: a participant completes the bundled consultation to the
receipt; resumes by the resume link in a new browser; goes back and edits on the review; a double
click submits once; after the closing date the submission is refused and the draft kept; with the
keyboard alone; with JavaScript disabled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from storage.models import participants, responses
from tests.web.conftest import Site, seeded_cookie
from tests.web.flow import answer_one, answer_until_review, page_kind, question, start, submit


async def stored(site: Site) -> list[tuple[Any, ...]]:
    """(channel, status, reference) of every response, as the database holds them."""
    async with site.store.engine.connect() as connection:
        rows = await connection.execute(
            select(participants.c.channel, responses.c.status, responses.c.reference)
            .join(responses, responses.c.participant_id == participants.c.id)
            .order_by(responses.c.id)
        )
        return [tuple(row) for row in rows]


async def test_a_participant_completes_the_consultation_to_the_receipt(
    site: Site, browser: Any
) -> None:
    page = await browser.new_page(locale="fr-FR")
    await start(page, site.url)
    assert await page.get_attribute("html", "lang") == "fr"
    await answer_until_review(page)
    review = await page.inner_text("ol.review")
    # the typed text is shown as text, never as markup
    assert "Plus de <b>moyens</b> & de suivi" in review
    await submit(page)
    assert await page_kind(page) == "receipt"
    reference = await page.inner_text("section.current code")
    assert await stored(site) == [("web", "submitted", reference)]


async def test_closing_the_browser_and_resuming_by_the_resume_link(
    site: Site, browser: Any
) -> None:
    first = await browser.new_context(locale="fr-FR")
    page = await first.new_page()
    await start(page, site.url)
    for _ in range(3):
        await answer_one(page)
    where = await question(page)
    link = await page.get_attribute("a.resume-link", "href")
    await first.close()

    other_device = await browser.new_context(locale="fr-FR")
    page = await other_device.new_page()
    await page.goto(site.url + "/c")
    assert await page_kind(page) == "landing"  # no cookie here: nobody's answers
    await page.goto(link)
    assert await page_kind(page) == "question"
    assert await question(page) == where
    # the language switch: the same question, now in English
    async with page.expect_navigation():
        await page.click('button[value="L:en"]')
    assert await page.get_attribute("html", "lang") == "en"
    assert await question(page) == where
    assert await page.get_attribute('button[value="L:en"]', "aria-pressed") == "true"
    await answer_one(page)
    assert await question(page) != where
    assert [row[:2] for row in await stored(site)] == [("web", "draft")]


async def test_back_then_edit_on_the_review_then_a_double_click_submits_once(
    site: Site, browser: Any
) -> None:
    context = await browser.new_context(locale="fr-FR")
    await context.add_cookies([await seeded_cookie(site)])
    page = await context.new_page()
    await page.goto(site.url + "/c")
    assert await page_kind(page) == "review"

    # back from the review: the last question, with its answer shown
    async with page.expect_navigation():
        await page.click('.nav button[value^="b:"]')
    assert await page_kind(page) == "question"
    assert await page.input_value("#answer") == "Jeanne.Dupont@example.fr"
    async with page.expect_navigation():
        await page.click('button[value="text"]')
    assert await page_kind(page) == "review"

    # edit the region on the review: choose another option, back to the review
    region = page.locator('ol.review li[data-question="region"]')
    async with page.expect_navigation():
        await region.locator("button").click()
    assert (await question(page))[0] == "region"
    assert await page.get_attribute('button[aria-pressed="true"]', "value") is not None
    chosen = page.locator('fieldset.options button[aria-pressed="false"]').first
    label = (await chosen.inner_text()).strip()
    async with page.expect_navigation():
        await chosen.click()
    assert await page_kind(page) == "review"
    assert label in await region.inner_text()

    async with page.expect_navigation():
        await page.dblclick(".nav button.primary")
    assert await page_kind(page) == "receipt"
    rows = await stored(site)
    assert [row[:2] for row in rows] == [("web", "submitted")]
    assert rows[0][2] == await page.inner_text("section.current code")


async def test_after_the_closing_date_the_submission_is_refused_and_the_draft_kept(
    site: Site, browser: Any
) -> None:
    context = await browser.new_context(locale="fr-FR")
    await context.add_cookies([await seeded_cookie(site)])
    page = await context.new_page()
    await page.goto(site.url + "/c")
    assert await page_kind(page) == "review"
    before = await page.inner_text("ol.review")
    site.clock.now = site.survey.closes_at + timedelta(seconds=1)
    await submit(page)
    assert await page_kind(page) == "closed"
    assert "7 mars 2022" in await page.inner_text("#notices")
    assert [row[:2] for row in await stored(site)] == [("web", "draft")]
    # the draft is kept: back in the window (a rehearsal), the same answers are on the review
    site.clock.now = site.survey.closes_at - timedelta(hours=1)
    await page.goto(site.url + "/c")
    assert await page.inner_text("ol.review") == before


async def test_the_whole_consultation_with_the_keyboard_alone(site: Site, browser: Any) -> None:
    from tests.web.flow import targets

    page = await browser.new_page(locale="fr-FR")
    await page.goto(site.url + "/")

    async def tab_to(selector: str) -> None:
        wanted = page.locator(selector)
        for _ in range(80):
            await page.keyboard.press("Tab")
            if await wanted.evaluate("element => element === document.activeElement"):
                return
        raise AssertionError(f"{selector} cannot be reached with Tab")

    await tab_to("form.start button")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    for _ in range(80):
        if await page_kind(page) == "review":
            break
        # the focus was moved to the new question
        assert await page.evaluate("document.activeElement.id") == "q"
        for what, target in await targets(page):
            if what == "type":
                await tab_to("#answer")
                await page.keyboard.type(target)
            elif what == "search":
                # a long list's search field: typed, then sent with Enter
                await tab_to("#search")
                await page.keyboard.type(target)
                async with page.expect_navigation():
                    await page.keyboard.press("Enter")
            else:
                await tab_to(target)
                async with page.expect_navigation():
                    await page.keyboard.press("Enter")
    assert await page_kind(page) == "review"
    await tab_to(".nav button.primary")
    async with page.expect_navigation():
        await page.keyboard.press("Space")
    assert await page_kind(page) == "receipt"


async def test_the_whole_consultation_with_javascript_disabled(site: Site, browser: Any) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = await context.new_page()
    await start(page, site.url)
    await answer_until_review(page)
    await submit(page)
    assert await page_kind(page) == "receipt"
    assert [row[:2] for row in await stored(site)] == [("web", "submitted")]
