"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): every page, the actions, the limits.

Marked `browser`: run by `make test-browser`, which installs Chromium when it is missing. Each page the
tests visit is saved as a screenshot under tmp/artifacts/dashboard/ (and as docs/img/dashboard-*.png with
UPDATE_DOC_IMAGES=1).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.dashboard.conftest import ARTIFACTS, DOC_IMAGES
from tests.dashboard.stack import ADMIN_KEY, Stack, ok

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (no browser download: Debian's Chromium is launched below)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-browser`, which installs it")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield launched
    finally:
        launched.close()


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot as a test artifact; also the documentation's image with UPDATE_DOC_IMAGES=1.

    Only on request: every run's pages differ a little (times, the simulator's clock), and a test run must
    not leave the committed images changed.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if os.environ.get("UPDATE_DOC_IMAGES") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / f"dashboard-{name}.png").write_bytes((ARTIFACTS / f"{name}.png").read_bytes())


def new_context(browser: Browser, stack: Stack, **options: object) -> BrowserContext:
    """A fresh browser profile (its own cookies) aimed at the service."""
    return browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900}, **options)  # type: ignore[arg-type]


def sign_in(page: Page, key: str) -> None:
    """Log in through the form and land on the node list."""
    page.goto("/dashboard/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard/nodes$"))


def csrf_of(page: Page) -> str:
    """The session's CSRF token, as every form of the page carries it."""
    token = page.locator("form.logout input[name=csrf]").get_attribute("value")
    assert token
    return token


@pytest.fixture
def viewer(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page signed in with the viewer key."""
    context = new_context(browser, stack)
    page = context.new_page()
    sign_in(page, stack.viewer_key)
    yield page
    context.close()


@pytest.fixture
def operator(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page signed in with the operator key."""
    context = new_context(browser, stack)
    page = context.new_page()
    sign_in(page, stack.operator_key)
    yield page
    context.close()


def pending_ids(stack: Stack) -> list[str]:
    """Decisions of the careful node waiting for an operator, read through the API."""
    with stack.api() as api:
        page = ok(
            api.get(f"/api/v1/nodes/{stack.careful_node_id}/decisions", params={"status": "needs_approval"})
        )
    return [item["id"] for item in page["items"]]


def test_login_refuses_a_wrong_key_and_keeps_the_session_in_a_sealed_strict_cookie(
    browser: Browser, stack: Stack
):
    context = new_context(browser, stack)
    page = context.new_page()
    page.goto("/dashboard/nodes/" + stack.node_id)
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))  # no session: the login page
    page.fill("#api_key", "mcp_not_a_key")
    with page.expect_response(re.compile(r"/dashboard/login$")) as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    expect(page.locator("p.error")).to_have_text("Unknown or revoked API key.")
    page.fill("#api_key", ADMIN_KEY)  # the platform admin owns no nodes
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("platform admin key owns no nodes")
    shoot(page, "login")
    sign_in(page, stack.viewer_key)
    expect(page.locator("table.grid tbody tr")).to_have_count(2)  # the demo node and the careful one
    [session] = [c for c in context.cookies() if c["name"] == "mcp_dashboard"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    assert session["path"] == "/dashboard"
    assert stack.viewer_key not in session["value"]  # sealed, not the key
    assert page.evaluate("document.cookie") == ""  # no script can read it
    context.close()


def test_overview_shows_stage_gate_cycles_kinds_and_charts(viewer: Page, stack: Stack):
    viewer.click(f"a[href='/dashboard/nodes/{stack.node_id}']")
    expect(viewer.locator("#stage")).to_have_text("live")
    expect(viewer.locator("#mode")).to_have_text("live")
    expect(viewer.locator("#service-mode")).to_have_text("full")
    assert viewer.locator("#cycles tbody tr").count() >= 4  # the demo's sync and the rollout's cycles
    kinds = viewer.locator("#kinds tbody tr")
    assert kinds.count() >= 2
    assert viewer.locator("svg.chart").count() == 3
    assert viewer.locator("svg.chart").first.locator("rect.bar").count() == 14  # one bar per day
    with stack.api() as api:
        rollout = ok(api.get(f"/api/v1/nodes/{stack.node_id}/rollout"))
    assert rollout["stage"] == "live"
    shoot(viewer, "overview")


def column_values(page: Page, index: int) -> list[int]:
    """The numbers of one column of the channel table, top to bottom."""
    cells = page.locator(f"#channels tbody tr td:nth-child({index})").all_inner_texts()
    return [int(text.replace(",", "")) for text in cells]


def test_channel_table_sorts_and_filters_on_the_server(viewer: Page, stack: Stack):
    viewer.goto(f"/dashboard/nodes/{stack.node_id}/channels")
    capacities = column_values(viewer, 3)
    assert len(capacities) > 10 and capacities == sorted(capacities, reverse=True)  # capacity, largest first
    viewer.click("a[data-sort=fee]")
    expect(viewer).to_have_url(re.compile(r"sort=fee&dir=desc"))
    fees = column_values(viewer, 5)
    assert fees == sorted(fees, reverse=True) and fees[0] > fees[-1]
    viewer.click("a[data-sort=fee]")  # again: the other way round
    expect(viewer).to_have_url(re.compile(r"sort=fee&dir=asc"))
    assert column_values(viewer, 5) == sorted(fees)
    shoot(viewer, "channels")
    viewer.select_option("select[name=decision]", "hold")
    viewer.click("form.filters button[type=submit]")
    kinds = viewer.locator("#channels tbody td.kind").all_inner_texts()
    assert kinds and set(kinds) == {"hold"}
    total = viewer.locator("h1 small").inner_text()
    shown, of = (int(n) for n in re.findall(r"\d+", total))
    assert shown == len(kinds) < of
    alias = viewer.locator("#channels tbody td.alias").first.inner_text()
    viewer.fill("input[name=q]", alias)
    viewer.click("form.filters button[type=submit]")
    found = viewer.locator("#channels tbody td.alias").all_inner_texts()
    assert found and all(alias.casefold() in text.casefold() for text in found)
    viewer.goto(f"/dashboard/nodes/{stack.node_id}/channels?sort=nonsense")
    expect(viewer.locator("p.error")).to_contain_text("cannot sort by 'nonsense'")


def test_channel_page_has_the_eight_scores_and_the_policy_history(viewer: Page, stack: Stack):
    with stack.api() as api:
        detail = ok(api.get(f"/api/v1/transactions/{stack.live_transaction_id}"))
    applied = next(entry["chan_id"] for entry in detail["channels"] if entry["outcome"] == "applied")
    viewer.goto(f"/dashboard/nodes/{stack.node_id}/channels?q={applied}")
    viewer.click(f"#channels a[href$='/channels/{applied}']")
    expect(viewer.locator("#breakdown tbody tr")).to_have_count(8)
    sources = viewer.locator("#history tbody tr td:nth-child(2)").all_inner_texts()
    assert "applied" in sources and "observed" in sources, sources
    shoot(viewer, "channel")


def test_shadow_report_matches_the_api(viewer: Page, stack: Stack):
    viewer.goto(f"/dashboard/nodes/{stack.node_id}/shadow?days=7")
    with stack.api() as api:
        report = ok(api.get(f"/api/v1/nodes/{stack.node_id}/shadow/report", params={"days": 7}))
    expect(viewer.locator("#would-change")).to_have_text(str(report["total"]))
    expect(viewer.locator("#refused")).to_have_text(str(report["refused"]))
    assert viewer.locator("#by-day tbody tr").count() == len(report["by_day"])
    shoot(viewer, "shadow")


def test_a_viewer_reads_but_cannot_act(viewer: Page, stack: Stack):
    waiting = pending_ids(stack)
    viewer.goto(f"/dashboard/nodes/{stack.careful_node_id}/approvals")
    expect(viewer.locator("#read-only")).to_be_visible()
    expect(viewer.locator("#pending tbody tr")).to_have_count(len(waiting))
    assert viewer.locator("button.approve").count() == 0
    forged = viewer.request.post(
        f"/dashboard/nodes/{stack.careful_node_id}/decisions/{waiting[0]}/approve",
        form={"csrf": csrf_of(viewer)},
        max_redirects=0,
    )
    assert forged.status == 403 and "needs the operator role" in forged.text()
    viewer.goto(f"/dashboard/nodes/{stack.node_id}/transactions/{stack.live_transaction_id}")
    expect(viewer.locator("#entries tbody tr").first).to_be_visible()
    assert viewer.locator("#rollback").count() == 0
    confirm = viewer.goto(
        f"/dashboard/nodes/{stack.node_id}/transactions/{stack.live_transaction_id}/rollback"
    )
    assert confirm is not None and confirm.status == 403
    assert pending_ids(stack) == waiting  # nothing changed


def test_forms_without_the_session_csrf_token_are_refused(operator: Page, stack: Stack):
    waiting = pending_ids(stack)
    url = f"/dashboard/nodes/{stack.careful_node_id}/decisions/{waiting[0]}/approve"
    forms: list[dict[str, str | float | bool]] = [{"csrf": "not-the-token"}, {}]
    for form in forms:
        refused = operator.request.post(url, form=form, max_redirects=0)
        assert refused.status == 403 and "CSRF" in refused.text()
    other_site = operator.request.post(
        url, form={"csrf": csrf_of(operator)}, headers={"Origin": "https://evil.example"}, max_redirects=0
    )
    assert other_site.status == 403
    assert pending_ids(stack) == waiting


def test_an_operator_approves_a_decision(operator: Page, stack: Stack):
    waiting = pending_ids(stack)
    operator.goto(f"/dashboard/nodes/{stack.careful_node_id}/approvals")
    shoot(operator, "approvals")
    row = operator.locator(f"#pending tr[data-decision='{waiting[0]}']")
    row.locator("button.approve").click()
    expect(operator.locator("p.notice")).to_have_text("Decision approved.")
    assert waiting[0] not in pending_ids(stack)
    with stack.api() as api:
        assert ok(api.get(f"/api/v1/decisions/{waiting[0]}"))["status"] == "approved"


def test_an_operator_rolls_back_a_transaction_after_confirming(operator: Page, stack: Stack):
    live = stack.live_transaction_id
    operator.goto(f"/dashboard/nodes/{stack.node_id}/transactions")
    operator.click(f"#transactions tr[data-transaction='{live}'] a")
    expect(operator.locator("#state")).to_have_text("committed")
    shoot(operator, "transaction")
    operator.click("#rollback")
    expect(operator.locator("#confirm-rollback")).to_be_visible()
    applied = operator.locator("#entries tr.selected").count()
    assert applied >= 1
    unconfirmed = operator.request.post(
        f"/dashboard/nodes/{stack.node_id}/transactions/{live}/rollback",
        form={"csrf": csrf_of(operator)},
        max_redirects=0,
    )
    assert unconfirmed.status == 422 and "confirmation" in unconfirmed.text()
    shoot(operator, "rollback-confirm")
    operator.check("input[name=confirm]")
    operator.fill("input[name=reason]", "browser test")
    operator.click("#do-rollback")
    expect(operator.locator("p.notice")).to_contain_text("Rollback done")
    expect(operator.locator("#state")).to_have_text("committed")
    assert set(operator.locator("#entries td.readback").all_inner_texts()) == {
        "target"
    }  # each proven by read-back
    rollback_id = operator.url.split("/transactions/")[1].split("?")[0]
    with stack.api() as api:
        original = ok(api.get(f"/api/v1/transactions/{live}"))
        undo = ok(api.get(f"/api/v1/transactions/{rollback_id}"))
    assert original["rolled_back_by"] == [rollback_id]
    assert undo["kind"] == "rollback" and undo["outcomes"] == {"applied": applied}
    for entry in undo["channels"]:  # each channel is back at the policy it had before the live batch
        before = next(e for e in original["channels"] if e["chan_id"] == entry["chan_id"])["before"]
        assert entry["observed"]["fee_rate_ppm"] == before["fee_rate_ppm"]


def test_backups_are_listed_and_a_restore_is_confirmed_first(operator: Page, stack: Stack):
    operator.goto(f"/dashboard/nodes/{stack.node_id}/backups")
    rows = operator.locator("#backups tbody tr")
    assert rows.count() >= 2  # the live batch's own backup and the manual one
    operator.click("#take-backup")
    expect(operator.locator("p.notice")).to_have_text("Backup taken.")
    assert rows.count() >= 3
    shoot(operator, "backups")
    rows.first.locator("a", has_text="Restore").click()
    expect(operator.locator("#confirm-restore")).to_contain_text("channels")
    operator.check("input[name=confirm]")
    operator.click("#do-restore")
    expect(operator.locator("p.notice")).to_contain_text("Restore done")


def test_pages_read_without_javascript_and_never_show_a_credential(browser: Browser, stack: Stack):
    context = new_context(browser, stack, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, stack.operator_key)
    node = f"/dashboard/nodes/{stack.node_id}"
    pages = ["/dashboard/nodes", node, f"{node}/channels?sort=score", f"{node}/shadow", f"{node}/transactions",
             f"{node}/transactions/{stack.live_transaction_id}", f"{node}/backups",
             f"/dashboard/nodes/{stack.careful_node_id}/approvals"]  # fmt: skip
    secrets = [stack.admin_key, stack.operator_key, stack.viewer_key, ADMIN_KEY, *stack.macaroons_hex]
    session = next(c["value"] for c in context.cookies() if c["name"] == "mcp_dashboard")
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert "script-src" not in response.headers["content-security-policy"]  # no script is allowed at all
        html = page.content()
        assert page.locator("main h1").count() == 1, path
        for secret in (*secrets, session):
            assert secret not in html, f"{path} shows a credential"
    page.click("form.logout button")
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    page.goto(node)
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))  # signed out for good
    context.close()
