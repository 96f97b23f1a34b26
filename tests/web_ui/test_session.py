"""Sign-in and language in a real browser: first-run setup creates the first user, sign-out
and sign-in work, the language follows the browser and switches per user."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.web_ui.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    USERNAME,
    StartAppliance,
    create_first_user,
    open_ui,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_first_run_creates_the_user_then_sign_in_works(
    start_appliance: StartAppliance, browser: Browser
) -> None:
    appliance = await start_appliance()
    ui = await open_ui(browser, appliance.url)
    page = ui.page

    await ui.goto("/")
    await page.wait_for_selector("#setup-form")
    await page.fill("#setup-username", USERNAME)
    await page.fill("#setup-password", PASSWORD)
    await page.fill("#setup-repeat", PASSWORD)
    await page.click("#setup-submit")
    await page.wait_for_selector("#active-incidents", state="attached")
    await page.click("#signout")
    await page.wait_for_selector("#signin-form")
    await page.fill("#username", USERNAME)
    await page.fill("#password", "not-the-password")
    await page.click("#signin-submit")
    wrong = page.locator("#signin-error:not([hidden])")
    await wrong.wait_for()
    wrong_text = await wrong.inner_text()
    await page.fill("#password", PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_selector("#active-incidents", state="attached")
    me = await ui.api("GET", "/api/v1/auth/me")

    assert wrong_text == "Wrong username or password."
    assert me["status"] == 200
    assert (me["body"]["username"], me["body"]["role"]) == (USERNAME, "technician")
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


async def test_switching_to_russian_changes_the_text_and_is_kept_for_the_user(
    start_appliance: StartAppliance, browser: Browser
) -> None:
    appliance = await start_appliance()
    await create_first_user(appliance.url)
    ui = await open_ui(browser, appliance.url, locale="en-US")
    await ui.sign_in()
    page = ui.page
    english = await page.inner_text("#page h1")
    english_nav = await page.get_attribute("[data-nav='incidents']", "aria-label")

    await page.select_option("#language", "ru")
    await page.locator("#page h1", has_text="Активные происшествия").wait_for()
    await ui.screenshot("overview-ru", PHONE)
    me = await ui.api("GET", "/api/v1/auth/me")
    other = await open_ui(browser, appliance.url, DESKTOP, locale="en-US")
    await other.sign_in()
    await other.page.locator("#page h1", has_text="Активные происшествия").wait_for()
    russian_nav = await other.page.inner_text("[data-nav='incidents']")

    assert (english, english_nav) == ("Active incidents", "Incidents")
    assert await page.get_attribute("html", "lang") == "ru"
    assert await page.get_attribute("[data-nav='incidents']", "aria-label") == "Происшествия"
    assert me["body"]["language"] == "ru"
    assert russian_nav.strip() == "Происшествия"
    assert ui.foreign_requests() == other.foreign_requests() == []
    assert ui.page_errors == other.page_errors == []
    await ui.close()
    await other.close()


async def test_language_defaults_from_the_browser(
    start_appliance: StartAppliance, browser: Browser
) -> None:
    appliance = await start_appliance()
    await create_first_user(appliance.url)
    ui = await open_ui(browser, appliance.url, locale="ru-RU")

    await ui.goto("/signin")
    title = await ui.page.inner_text("#signin-form h1")

    assert title == "Вход"
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


async def test_technician_adds_a_farmer_who_cannot_change_settings(
    start_appliance: StartAppliance, browser: Browser
) -> None:
    appliance = await start_appliance()
    await create_first_user(appliance.url)
    technician = await open_ui(browser, appliance.url, DESKTOP)
    await technician.sign_in_quietly()
    await technician.goto("/settings")
    page = technician.page
    await page.wait_for_selector("#user-form")

    await page.fill("#new-username", "boris")
    await page.fill("#new-password", "milking-time-1")
    await page.select_option("#new-role", "farmer")
    await page.click("#user-add")
    await page.wait_for_selector("#user-list [data-username='boris'][data-role='farmer']")
    farmer = await open_ui(browser, appliance.url)
    await farmer.sign_in("boris", "milking-time-1")
    await farmer.goto("/settings")
    await farmer.page.wait_for_selector("#settings-read-only")
    settings = await farmer.api("GET", "/api/v1/settings")
    refused = await farmer.api("PUT", "/api/v1/settings/incidents", settings["body"]["incidents"])

    assert await farmer.page.locator("#save-incidents").count() == 0
    assert await farmer.page.locator("#users").count() == 0
    assert refused["status"] == 403
    assert technician.foreign_requests() == farmer.foreign_requests() == []
    assert technician.page_errors == farmer.page_errors == []
    await technician.close()
    await farmer.close()


async def test_settings_forms_save_a_changed_threshold_and_timer(
    start_appliance: StartAppliance, browser: Browser
) -> None:
    appliance = await start_appliance()
    await create_first_user(appliance.url)
    ui = await open_ui(browser, appliance.url, DESKTOP)
    await ui.sign_in_quietly()
    await ui.goto("/settings")
    page = ui.page
    escalate = page.locator("#f-incidents-escalate_after_s")
    night_score = page.locator("#f-vision-night-default-min_score")
    await escalate.wait_for()

    await escalate.fill("900")
    await page.click("#save-incidents")
    await page.wait_for_selector("#settings-incidents .message.ok")
    await night_score.fill("0.42")
    await page.click("#save-vision")
    await page.wait_for_selector("#settings-vision .message.ok")
    stored = (await ui.api("GET", "/api/v1/settings"))["body"]

    assert stored["incidents"]["escalate_after_s"] == 900
    assert stored["vision"]["night"]["default"]["min_score"] == 0.42
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()
