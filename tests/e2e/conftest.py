"""Fixtures of the browser end-to-end tests: one system and one Chromium per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from web_harness import People, WebSystem, chromium, running_system


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def web_system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WebSystem]:
    async with running_system(tmp_path_factory.mktemp("web-system")) as system:
        yield system


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest_asyncio.fixture(loop_scope="session")
async def people(web_system: WebSystem, browser: Browser) -> AsyncIterator[People]:
    crowd = People(browser, web_system)
    try:
        yield crowd
    finally:
        await crowd.close()
