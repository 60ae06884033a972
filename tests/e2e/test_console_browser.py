"""The web console in headless Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium) against
`oncall-agent serve` and the sandbox: local sign-in with an approver token; sign-in through a test-signed ALB
`x-amzn-oidc-data` header (injected with DevTools' Network.setExtraHTTPHeaders; the test serves its own public
key endpoint on loopback); a person outside the action's group is refused with the reason; approving with the
button rolls the deploy back and the incident resolves; a replayed decision answers 409; a cross-site form post,
and forged, expired or wrong-signer tokens, are refused. Screenshots go to docs/screenshots/ (the README shows
them)."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec_ui
from selenium.webdriver.support.ui import WebDriverWait

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.web.console_auth import ConsoleAuth
from tests.alb_tokens import ALB_ARN, KID, KeyServer, alb_token
from tests.e2e.harness import TOKEN, Agent, wait_for
from tests.e2e.test_walking_skeleton import SCENARIO, awaiting, make_world, rollback_of, running_task_definition

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
KEY = ec.generate_private_key(ec.SECP256R1())
HEADER = "x-amzn-oidc-data"
SESSION_SECRET = "e2e-console-session-secret"


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


@pytest.fixture()
def keys() -> Iterator[KeyServer]:
    server = KeyServer({KID: KEY})
    yield server
    server.stop()


@pytest.fixture()
def browser() -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("headless Chromium is missing: apt-get install -y chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_window_size(1280, 1100)
    yield chrome
    chrome.quit()


def console_agent(world: SandboxWorld, folder: Path, keys: KeyServer) -> Agent:
    agent = Agent(world, folder)
    settings = yaml.safe_load(agent.config.read_text())
    settings["console"] = {
        "session_secret": SESSION_SECRET,
        "oidc": {
            "enabled": True,
            "alb_arn": ALB_ARN,
            "region": "eu-west-1",
            "public_key_url": keys.url,
            "approvers_by_email": {"alice@example.com": "alice"},
            "approvers_by_group": {"payments-team": "carol"},
        },
    }
    agent.config.write_text(yaml.safe_dump(settings))
    return agent.start()


def as_alb_user(browser: webdriver.Chrome, claims: dict[str, Any] | None) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    headers = {HEADER: alb_token(KEY, claims)} if claims else {}
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def shot(browser: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def element(browser: webdriver.Chrome, element_id: str) -> WebElement:
    """The element once the page holding it has loaded (a click returns before the next page arrives)."""
    found: WebElement = WebDriverWait(browser, 20).until(ec_ui.presence_of_element_located((By.ID, element_id)))
    return found


def text(browser: webdriver.Chrome) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


@contextmanager
def attacker_page(console: str, action: dict[str, Any]) -> Iterator[str]:
    """A page on another origin that submits an approval form to the console as soon as it loads."""
    html = (
        f'<form id="f" method="post" action="{console}/actions/{action["id"]}/decide">'
        f'<input name="digest" value="{action["digest"]}"><input name="decision" value="approve">'
        '<input name="csrf" value="guessed"></form><script>document.getElementById("f").submit()</script>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_sign_in_see_the_incident_approve_and_watch_it_resolve(
    world: SandboxWorld, keys: KeyServer, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    agent = console_agent(world, tmp_path, keys)
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))

    # Local sign-in with the approver token: the list shows the incident and the agent's health.
    browser.get(agent.url + "/")
    assert browser.current_url.endswith("/sign-in")
    element(browser, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "sign-in").click()
    element(browser, "health")
    assert "Signed in as alice" in text(browser) and "awaiting approval" in text(browser)
    assert "Events waiting to be grouped" in text(browser) and "deploy (checkout:118)" in text(browser)
    assert browser.get_cookie("oncall_session")["sameSite"] == "Strict"
    assert browser.get_cookie("oncall_session")["httpOnly"] is True
    assert browser.get_cookie("oncall_session")["secure"] is True  # the default; Chromium keeps it on loopback http
    shot(browser, "incidents.png")

    # A page on another origin posts an approval of the rollback (even knowing its digest): the browser sends the
    # session cookie (same site: loopback, another port), and the Origin check refuses it; nothing is decided.
    with attacker_page(agent.url, rollback) as evil:
        browser.get(evil)
        assert "cross-site form post from http://127.0.0.1:" in element(browser, "refused").text
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"
    browser.get(agent.url + "/")
    browser.find_element(By.CSS_SELECTOR, "form[action='/sign-out'] button").click()
    element(browser, "sign-in")
    assert browser.get_cookie("oncall_session") is None

    # Through the ALB as carol (payments): she sees the incident; her approval is refused with the reason.
    as_alb_user(browser, {"email": "carol@example.com", "groups": ["payments-team"]})
    browser.get(f"{agent.url}/incidents/{incident_id}")
    browser.find_element(By.ID, f"approve-{rollback['id']}").click()
    assert "carol is not in group storefront" in element(browser, "error").text
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"

    # Through the ALB as alice (storefront): approve with the button, the rollback runs, the incident resolves.
    as_alb_user(browser, {"email": "alice@example.com"})
    browser.get(f"{agent.url}/incidents/{incident_id}")
    page = text(browser)
    assert "Signed in as alice@example.com (approver alice)" in page and rollback["digest"] in page
    assert "Approver group\nstorefront" in page and "Evidence for:" in page and "Timeline" in page
    assert "GitHub issue\nacme/checkout#" in page
    links = agent.incident(incident_id)["links"]  # both records, each a link to the tracker's own page
    hrefs = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "dd a")}
    assert hrefs[links["servicenow_number"]] == links["servicenow_link"]
    assert hrefs[f"acme/checkout#{links['github_issue']}"] == links["github_link"]
    shot(browser, "incident.png")
    browser.set_window_size(412, 915)
    browser.execute_script(f"document.getElementById('action-{rollback['id']}').scrollIntoView()")
    shot(browser, "incident-phone.png")
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the incident page is {overflow} px wider than a phone"
    browser.set_window_size(1280, 1100)
    browser.find_element(By.ID, f"approve-{rollback['id']}").click()
    assert "Action approved." in element(browser, "notice").text

    def resolved() -> bool:
        browser.refresh()
        return element(browser, "status").text == "resolved"

    wait_for(resolved, "the incident page to say resolved", timeout=90)
    assert running_task_definition(world) != "checkout:118"
    assert "approved by alice via console (oidc)" in text(browser)
    shot(browser, "after-approval.png")

    # The same approval again (a second tab, a double click): 409 with who decided first, nothing written.
    csrf = ConsoleAuth(SESSION_SECRET, 600, True, [], None, None).csrf_token("alice@example.com")
    replay = requests.post(
        f"{agent.url}/actions/{rollback['id']}/decide",
        data={"csrf": csrf, "digest": rollback["digest"], "decision": "approve"},
        headers={HEADER: alb_token(KEY, {"email": "alice@example.com"}), "Origin": agent.url},
        timeout=10,
    )
    assert replay.status_code == 409 and "is already succeeded by alice: nothing was changed" in replay.text
    decisions = [e for e in agent.incident(incident_id)["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1
    assert agent.stop() == 0


def test_forged_expired_wrong_signer_and_cross_site_posts_are_refused(
    world: SandboxWorld, keys: KeyServer, tmp_path: Path
) -> None:
    agent = console_agent(world, tmp_path, keys)
    alice = {"email": "alice@example.com"}
    good = {HEADER: alb_token(KEY, alice)}
    home = requests.get(agent.url + "/", headers=good, timeout=10)
    assert home.status_code == 200 and "<strong>alice@example.com</strong> (approver alice)" in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["cache-control"] == "no-store"
    refused = {
        "forged": alb_token(ec.generate_private_key(ec.SECP256R1()), alice),
        "expired": alb_token(KEY, alice, exp=1_700_000_000),
        "wrong signer": alb_token(KEY, alice, signer=ALB_ARN.replace("123456789012", "210987654321")),
    }
    for why, token in refused.items():
        answer = requests.get(agent.url + "/", headers={HEADER: token}, timeout=10, allow_redirects=False)
        assert answer.status_code == 401, (why, answer.text)
        assert "ALB sign-in refused" in answer.text and "alice@example.com" not in answer.text, why

    # A form post from another site (or without the page's CSRF token) decides nothing. The token is made with
    # the configured secret as the pages make it (this page has no forms: there is no incident).
    csrf = ConsoleAuth(SESSION_SECRET, 600, True, [], None, None).csrf_token("alice@example.com")
    form = {"csrf": csrf, "digest": "0" * 64, "decision": "approve"}
    cross = requests.post(
        agent.url + "/actions/act-x/decide", data=form, headers={**good, "Origin": "https://evil.example"}, timeout=10
    )
    assert cross.status_code == 403 and "cross-site form post from https://evil.example refused" in cross.text
    no_token = requests.post(
        agent.url + "/actions/act-x/decide",
        data={**form, "csrf": ""},
        headers={**good, "Origin": agent.url},
        timeout=10,
    )
    assert no_token.status_code == 403 and "form token missing" in no_token.text
    same_site = requests.post(
        agent.url + "/actions/act-x/decide", data=form, headers={**good, "Origin": agent.url}, timeout=10
    )
    assert same_site.status_code == 404  # passes the checks, and there is no such action
    unclear = requests.post(
        agent.url + "/actions/act-x/decide",
        data={**form, "decision": "maybe"},
        headers={**good, "Origin": agent.url},
        timeout=10,
    )
    assert unclear.status_code == 400 and "decision=approve or decision=reject" in unclear.text

    # Local sign-in: an unknown token is refused, and so is a sign-in form posted from another site.
    form_page = requests.get(agent.url + "/sign-in", timeout=10)
    sign_in_csrf = re.search(r'name="csrf" value="([^"]+)"', form_page.text)
    assert sign_in_csrf is not None
    attempt = {"csrf": sign_in_csrf.group(1), "token": "not-a-token"}
    wrong = requests.post(agent.url + "/sign-in", data=attempt, headers={"Origin": agent.url}, timeout=10)
    assert wrong.status_code == 401 and "unknown approver token" in wrong.text and "oncall_session" not in wrong.cookies
    attempt["token"] = TOKEN
    elsewhere = requests.post(
        agent.url + "/sign-in", data=attempt, headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert elsewhere.status_code == 403 and "oncall_session" not in elsewhere.cookies
    signed = requests.post(
        agent.url + "/sign-in", data=attempt, headers={"Origin": agent.url}, timeout=10, allow_redirects=False
    )
    assert signed.status_code == 303 and "oncall_session" in signed.cookies
    assert agent.stop() == 0
