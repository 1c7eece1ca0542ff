"""Flower in headless Chromium: behind basic auth, a delivered document's task is found by number.

The test drives Debian's chromium through its chromedriver (packages chromium and
chromium-driver) with selenium, so nothing downloads a browser or a driver. It is skipped
only where Chromium is not installed.
"""

import shutil
import sys
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.conftest import DEMO, SUBSCRIBERS
from tests.drops import fake_pdf, new_document_id, write_drop
from tests.processes import ManagedProcess, free_port, wait_for
from tests.drops import wait_for_state


def find_executable(name: str) -> str | None:
    """Return the path of a Debian-packaged program: PATH first, then /usr/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path("/usr/bin") / name
    return str(candidate) if candidate.exists() else None


CHROMIUM = find_executable("chromium")
CHROMEDRIVER = find_executable("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: apt-get install chromium chromium-driver")

# Headless Chromium flags. The background-networking, component-update, sync, QUIC and
# feature switches cut Chromium's own requests to outside hosts, but a net log of Chromium
# 156 still showed requests to update.googleapis.com, accounts.google.com and the search
# engine's start page. The resolver rule fails every host name inside Chromium without a
# DNS query, so Chromium reaches only IP literals such as Flower's 127.0.0.1.
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--window-size=1600,1000",
    "--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

FLOWER_USER = "courier-admin"
FLOWER_PASSWORD = "flower-test-password"

DOCUMENT_NUMBER = "БП-777001"
OTHER_NUMBER = "БП-777002"
CLIENT_NAME = "ООО «Северный ветер»"
EMAIL_RECIPIENT = SUBSCRIBERS[1]
PHONE_RECIPIENT = SUBSCRIBERS[2]
DELIVER_TASK = "courier.deliver_drop"


@pytest.fixture
def flower(courier_env, worker, tmp_path):
    """Start `celery -A tasks flower` with basic auth and return its URL.

    The fixture returns once Flower has received the worker's events. Redis delivers task
    events only to receivers subscribed at that moment, so the drop must be written after.
    """
    port = free_port()
    env = {key: value for key, value in courier_env.items() if not key.startswith("FLOWER_")}
    env["FLOWER_BASIC_AUTH"] = f"{FLOWER_USER}:{FLOWER_PASSWORD}"
    command = [sys.executable, "-m", "celery", "-A", "tasks", "flower",
               "--address=127.0.0.1", f"--port={port}"]
    process = ManagedProcess("flower", command, env, tmp_path / "flower.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_for_output("Visit me at", timeout=60)

        # Celery workers send a heartbeat event every 2 s by default (celery/worker/heartbeat.py).
        def worker_seen() -> bool:
            response = requests.get(f"{url}/api/workers", params={"status": "1"},
                                    auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=5)
            return response.status_code == 200 and any(response.json().values())

        wait_for(worker_seen, timeout=30, interval=0.5, message="Flower to receive worker events")
        yield url
    finally:
        process.stop()


@pytest.fixture
def browser(tmp_path):
    """Start headless Chromium through Debian's chromedriver with a fresh profile."""
    if CHROMEDRIVER is None:
        pytest.fail("Chromium is installed but chromedriver is missing: "
                    "apt-get install chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # Passing the driver's path keeps selenium from running Selenium Manager, which downloads.
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def write_invoice(inbox: Path, number: str, client_name: str) -> str:
    """Write an invoice drop for one e-mail and one phone recipient and return its document id."""
    document_id = new_document_id()
    file_name = f"Счёт № {number}.pdf"
    write_drop(inbox, f"Счёт № {number}", {
        "document_id": document_id, "kind": "invoice", "number": number,
        "date": "2026-12-04", "client": {"name": client_name, "inn": "7705554321"},
        "comment": "Счёт на оплату за декабрь",
        "recipients": [{"email": EMAIL_RECIPIENT["email"]},
                       {"phone": PHONE_RECIPIENT["phone"]}],
        "files": [file_name],
    }, {file_name: fake_pdf(f"flower-{number}")})
    return document_id


def count_succeeded_deliveries(flower_url: str) -> int:
    """Return how many delivery tasks Flower's API lists as SUCCESS."""
    response = requests.get(f"{flower_url}/api/tasks",
                            params={"taskname": DELIVER_TASK, "state": "SUCCESS"},
                            auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=5)
    response.raise_for_status()
    return len(response.json())


def filtered_row_texts(driver) -> list[str] | None:
    """Return the task table's row texts once it shows one search result, else None."""
    try:
        info = driver.find_element(By.ID, "tasks-table_info").text
        rows = driver.find_elements(By.CSS_SELECTOR, "#tasks-table tbody tr")
        texts = [row.text for row in rows]
    except (NoSuchElementException, StaleElementReferenceException):
        # The table redraws after each AJAX response, so the next poll reads the new rows.
        return None
    return texts if "of 1 tasks" in info and len(texts) == 1 else None


def digits_of(phone: str) -> str:
    return "".join(character for character in phone if character.isdigit())


def assert_no_personal_data(page_source: str) -> None:
    assert EMAIL_RECIPIENT["email"].casefold() not in page_source.casefold()
    assert PHONE_RECIPIENT["phone"] not in page_source
    # The ten digits after the country prefix (8 or +7), as a normalized number shows them.
    assert digits_of(PHONE_RECIPIENT["phone"])[1:] not in page_source
    assert DEMO.password not in page_source


@pytest.mark.usefixtures("watcher")
def test_flower_finds_task_by_number(flower, browser, courier_root, tmp_path):
    inbox = courier_root / "inbox"
    other_id = write_invoice(inbox, OTHER_NUMBER, "ООО «Ромашка»")
    document_id = write_invoice(inbox, DOCUMENT_NUMBER, CLIENT_NAME)
    for drop in (other_id, document_id):
        wait_for_state(courier_root, drop, {"delivered"})
    # The task writes the status file before it returns, so Flower may still show STARTED.
    wait_for(lambda: count_succeeded_deliveries(flower) == 2, timeout=20, interval=0.3,
             message="Flower to list both deliveries as SUCCESS")

    # Without credentials Flower returns 401 for its pages and for its API.
    assert requests.get(f"{flower}/tasks", timeout=10).status_code == 401
    assert requests.get(f"{flower}/api/tasks", timeout=10).status_code == 401

    # The queue-length view works with the courier's Redis transport.
    queues = requests.get(f"{flower}/api/queues/length", timeout=10,
                          auth=(FLOWER_USER, FLOWER_PASSWORD))
    assert queues.status_code == 200
    assert "courier" in {queue["name"] for queue in queues.json()["active_queues"]}

    # Chromium sends credentials from the URL on top-level navigation and caches them for
    # the origin, so the table's AJAX requests are authenticated too.
    port = flower.rsplit(":", 1)[1]
    browser.get(f"http://{FLOWER_USER}:{FLOWER_PASSWORD}@127.0.0.1:{port}/tasks")
    assert "Tasks" in browser.title

    search = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#tasks-table_filter input"),
        timeout=20, interval=0.2, message="the search box of Flower's task table")[0]
    search.send_keys(DOCUMENT_NUMBER)

    # flowerconfig.py adds the args column, which shows the task's argsrepr.
    row, = wait_for(lambda: filtered_row_texts(browser), timeout=30, interval=0.3,
                    message=f"one row for {DOCUMENT_NUMBER} in Flower's task table")
    assert DELIVER_TASK in row
    assert "SUCCESS" in row
    assert DOCUMENT_NUMBER in row
    assert CLIENT_NAME in row
    assert OTHER_NUMBER not in browser.page_source

    # Give the table a moment past the last redraw so the screenshot shows settled rows.
    time.sleep(0.5)
    browser.save_screenshot(str(tmp_path / "flower-tasks.png"))
    assert_no_personal_data(browser.page_source)

    # The task's own page shows its args, kwargs and result in full.
    browser.find_element(By.CSS_SELECTOR, "#tasks-table tbody tr a[href*='/task/']").click()
    arguments = wait_for(
        lambda: browser.find_elements(By.XPATH, "//dt[text()='Arguments']/following-sibling::dd"),
        timeout=20, interval=0.2, message="the Arguments field of the task page")[0].text
    assert DOCUMENT_NUMBER in arguments
    assert CLIENT_NAME in arguments
    assert "получателей: 2" in arguments
    assert DELIVER_TASK in browser.title
    assert "SUCCESS" in browser.find_element(By.CSS_SELECTOR, ".badge").text
    browser.save_screenshot(str(tmp_path / "flower-task.png"))
    assert_no_personal_data(browser.page_source)
