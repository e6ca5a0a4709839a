"""Take the README's screenshots of the web channel (landing page, a question, a long list, the
review) in real Chromium: `python -m tests.web.screenshots [docs/web]`."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from tests.web.conftest import CHROMIUM_ARGS, serve
from tests.web.flow import answer_one, page_kind, question, start


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        site, runner = await serve(Path(folder))
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
                )
                context = await browser.new_context(
                    locale="en-GB", viewport={"width": 400, "height": 780}
                )
                page = await context.new_page()
                await page.goto(site.url + "/")
                await page.screenshot(path=str(out / "landing.png"))
                await start(page, site.url)
                while (await question(page))[1] != "multi_choice":
                    await answer_one(page)
                await page.click("fieldset.options button >> nth=1")
                await page.wait_for_load_state()
                await page.evaluate("document.activeElement.blur()")
                await page.screenshot(path=str(out / "question.png"))
                while (await question(page))[0] != "cluster_name":
                    await answer_one(page)
                await page.fill("#search", "aerospace valley")
                async with page.expect_navigation():
                    await page.press("#search", "Enter")
                await page.evaluate("document.activeElement.blur()")
                await page.screenshot(path=str(out / "long-list.png"), full_page=True)
                for _ in range(80):
                    if await page_kind(page) == "review":
                        break
                    await answer_one(page)
                await page.evaluate("document.activeElement.blur()")
                await page.screenshot(path=str(out / "review.png"))
                await browser.close()
        finally:
            await runner.cleanup()
            await site.store.db.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/web")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
