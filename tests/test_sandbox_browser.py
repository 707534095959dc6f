"""The sandbox page in headless Chromium, against the real app: a Detractor from the test form
through Claim, Log contact, Root cause and Resolve, a stranger's refusal, and the 24-hour
escalation to the manager."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_sandbox_cli import running_sandbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="browser tests need the playwright package (pip install -e '.[test]')",
    ),
]

if importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

    expect.set_options(timeout=20_000)  # a shared 2-core machine can be slow


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), "sandbox") as (base, _):
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, sandbox: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{sandbox}/sandbox?as=U0SBALICE&c=C0SBALICE")
    yield opened
    context.close()
    assert errors == [], "the page's script failed"


def starting(text: str) -> re.Pattern[str]:
    """A name that starts with `text` (slashes escaped for Playwright's selector parser)."""
    return re.compile("^" + re.escape(text).replace("/", r"\/"))


def send_response(page: Page, *, score: int, customer: str, account: str) -> Locator:
    """Fill in and send the test form; the card that arrives for it."""
    page.get_by_label("Score", exact=True).fill(str(score))
    page.get_by_label("Comment", exact=True).fill(
        "Support keeps us waiting and we are thinking of leaving."
    )
    page.get_by_label("Customer", exact=True).fill(customer)
    page.get_by_label("Account", exact=True).fill(account)
    page.get_by_label("ARR", exact=True).fill("90000")
    page.get_by_role("button", name="Send response").click()
    expect(page.get_by_role("status").filter(has_text="Stored sandbox-")).to_be_visible()
    name = f"nps-bot: Detractor {score}/10 from {customer} ({account})"
    card = page.get_by_role("article", name=starting(name))
    expect(card).to_be_visible()
    return card


def act_as(page: Page, person_id: str) -> None:
    page.get_by_label("Acting as").select_option(person_id)
    expect(page.locator("body")).to_have_attribute("data-as", person_id)


def submit_modal(page: Page, title: str, fill) -> None:
    """Fill in the modal called `title`, submit it, and see it close."""
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    fill(dialog)
    dialog.get_by_role("button", name=re.compile("^(Save|Resolve)$")).click()
    expect(dialog).to_be_hidden()


def test_a_detractor_is_worked_from_its_card_through_the_modals(page: Page):
    started = time.monotonic()
    card = send_response(page, score=2, customer="Ada Lovelace", account="Analytical Engines")
    assert time.monotonic() - started < 15
    expect(card).to_contain_text("Open: not claimed yet")

    act_as(page, "U0SBSAM")
    card.get_by_role("button", name="Claim").click()
    refusal = page.locator("article.ephemeral").filter(has_text="Only the account owner")
    expect(refusal).to_contain_text("Only visible to you")
    expect(card).to_contain_text("Open: not claimed yet")

    act_as(page, "U0SBALICE")
    expect(refusal).to_have_count(0)  # only Sam saw it
    card.get_by_role("button", name="Claim").click()
    expect(card).to_contain_text("Claimed by @Alice Owens")
    expect(card.get_by_role("button", name="Claim")).to_have_count(0)

    card.get_by_role("button", name="Log contact").click()
    dialog = page.get_by_role("dialog", name="Log contact")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Please complete this required field.")).to_have_count(2)
    expect(dialog.get_by_role("group", name="How")).to_have_attribute("aria-invalid", "true")

    def contact(d: Locator) -> None:
        d.get_by_role("group", name="How").get_by_role("radio", name="Phone").check()
        d.get_by_role("group", name="Outcome").get_by_role("radio", name="Reached").check()
        d.get_by_label(starting("Notes")).fill("Agreed a fix by Friday.")

    submit_modal(page, "Log contact", contact)
    expect(card).to_contain_text("Contacted")

    card.get_by_role("button", name="Root cause").click()
    submit_modal(
        page,
        "Root cause",
        lambda d: d.get_by_label("Root cause", exact=True).select_option(
            label="Slow support response"
        ),
    )
    expect(card).to_contain_text("Slow support response")

    card.get_by_role("button", name="Resolve").click()

    def resolve(d: Locator) -> None:
        d.get_by_label("Resolution summary", exact=True).fill("Support escalation path agreed.")
        d.get_by_role("radio", name="Yes").check()

    submit_modal(page, "Resolve case", resolve)
    expect(card).to_contain_text("Resolved")
    expect(card).to_contain_text("customer satisfied: yes")
    expect(card.get_by_role("button", name="Resolve")).to_have_count(0)


def test_modal_errors_from_the_app_show_next_to_the_field(page: Page):
    card = send_response(page, score=4, customer="Grace Hopper", account="Compilers Inc")
    card.get_by_role("button", name="Claim").click()
    expect(card).to_contain_text("Claimed by @Alice Owens")
    card.get_by_role("button", name="Log contact").click()
    dialog = page.get_by_role("dialog", name="Log contact")
    dialog.get_by_role("group", name="How").get_by_role("radio", name="Email").check()
    dialog.get_by_role("group", name="Outcome").get_by_role("radio", name="Voicemail").check()
    dialog.get_by_label(starting("Next follow-up")).fill(
        "2001-01-01"
    )  # in the past: the app refuses it
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".field-error")).to_have_text(["Pick today or a later date."])
    expect(dialog.get_by_label(starting("Next follow-up"))).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(
        dialog.get_by_role("radio", name="Email", exact=True)
    ).to_be_checked()  # what was typed stays
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_moving_the_clock_24_hours_escalates_to_the_manager(page: Page):
    send_response(page, score=3, customer="Alan Turing", account="Bletchley Park")
    clock = page.get_by_role("group", name="Move the clock forward")
    clock.get_by_role("button", name="24 h").click()
    expect(page.locator("#offset")).to_have_text("+1 day")
    act_as(page, "U0SBMARK")
    page.get_by_role("navigation", name="Conversations").get_by_role(
        "link", name=re.compile("^Mark Mendes")
    ).click()
    escalation = page.get_by_role(
        "article", name=starting("nps-bot: Escalation: Detractor 3/10 from Alan Turing")
    )
    expect(escalation).to_contain_text("you are the manager")
    escalation.get_by_role("button", name="Nudge the owner").click()
    nudged = page.locator("article.ephemeral").filter(has_text="The owner has been nudged.")
    expect(nudged).to_contain_text("Only visible to you")


def test_home_and_the_slash_command_answer_the_person_who_asked(page: Page):
    send_response(page, score=1, customer="Edsger Dijkstra", account="Structured Ltd")
    page.get_by_label("Slash command").fill("/nps help")
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("article.ephemeral").filter(has_text="/nps kpi")).to_be_visible()
    page.get_by_role("link", name="nps-bot Home").click()
    home = page.locator(".home")
    expect(home).to_contain_text("Your open NPS follow-ups")
    expect(home).to_contain_text("Edsger Dijkstra")


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => !el.labels.length && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML)"""


def test_the_page_works_from_the_keyboard_and_every_control_has_a_label(page: Page):
    card = send_response(page, score=5, customer="Barbara Liskov", account="Substitution Co")
    claim = card.get_by_role("button", name="Claim")
    claim.focus()
    page.keyboard.press("Enter")
    expect(card).to_contain_text("Claimed by @Alice Owens")
    opener = card.get_by_role("button", name="Log contact")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Log contact")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name="Phone")).to_be_focused()
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
