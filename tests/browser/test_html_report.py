"""The HTML report in a real headless Chromium: sorting, filtering, deep links, the timeline,
no console errors, no network, and markup from scanned content that never runs."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leakscan.report.html_report import render_html
from tests.browser.conftest import FLAGS, HOSTILE_AUTHOR, HOSTILE_PATH, Report

BY_ID = "id"
HISTORY_FINDINGS = 4


def open_report(browser: Any, url: str) -> None:
    """Load a report with fresh console and network logs."""
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(url)


def console_errors(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(browser: Any) -> list[str]:
    """Every URL the page requested, except data: URLs (decoded in memory; Chromium's own date
    picker icon is one)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith("data:"):
                urls.append(url)
    return urls


def visible_rows(browser: Any) -> list[str]:
    """Ids of the table rows shown, in display order (without the 'row-' prefix)."""
    ids: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#findings-table tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.id.slice(4));"
    )
    return ids


def anchors_by(report: Report) -> dict[tuple[str, int], str]:
    """(path, line) → the finding's anchor, read from the page's own data."""
    text = report.html.read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert data is not None
    rows = json.loads(data.group(1))["findings"]
    return {(r["location"].rsplit(":", 1)[0], int(r["location"].rsplit(":", 1)[1])): r["id"] for r in rows}


def anchor_of(report: Report, finding: dict[str, Any]) -> str:
    return anchors_by(report)[(finding["path"], finding["line"])]


def set_filter(browser: Any, name: str, value: str) -> None:
    control = browser.find_element("css selector", f'[data-filter="{name}"]')
    if control.tag_name == "select":
        from selenium.webdriver.support.select import Select

        Select(control).select_by_value(value)
    elif control.get_attribute("type") == "date":
        browser.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
            control,
            value,
        )
    else:
        control.clear()
        control.send_keys(value)


def click_sort(browser: Any, key: str) -> None:
    browser.find_element("css selector", f'th[data-sort="{key}"] button').click()


def assert_clean(browser: Any, report: Report) -> None:
    """No console error, nothing fetched but the report itself, no planted payload ran."""
    assert console_errors(browser) == []
    assert set(requested_urls(browser)) <= {report.url}
    flags = browser.execute_script("return Object.assign({}, document.body.dataset);")
    assert flags == {}
    assert browser.find_elements("tag name", "img") == []
    assert len(browser.find_elements("tag name", "script")) == 2  # the data and the page's script


def test_history_report_loads_clean_and_sorts_live_and_reachable_first(
    browser: Any, history_report: Report
) -> None:
    open_report(browser, history_report.url)
    findings = history_report.document["findings"]
    assert len(findings) == HISTORY_FINDINGS
    rows = visible_rows(browser)
    assert len(rows) == HISTORY_FINDINGS
    assert sorted(f["present_at_head"] for f in findings) == [False, True, True, True]
    removed = next(f for f in findings if not f["present_at_head"])
    # The one removed from HEAD is still in the history of main (its exposure's refs), so it is
    # still reachable and ranks with the others rather than last.
    assert removed["exposure"]["refs"] == ["main"]
    assert set(rows) == {anchor_of(history_report, f) for f in findings}
    assert browser.find_element(BY_ID, "shown-count").text == "4 of 4 shown"
    terms = browser.execute_script(
        "return Array.from(document.querySelectorAll('article.finding'))"
        ".map(a => Array.from(a.querySelectorAll(':scope > dl > dt')).map(dt => dt.textContent).join(','));"
    )
    assert terms == ["Secret,Where,Exposure,Liveness,Why,Fix"] * HISTORY_FINDINGS
    assert_clean(browser, history_report)


def test_table_sorts_by_introduced_date_and_location(browser: Any, history_report: Report) -> None:
    open_report(browser, history_report.url)
    findings = history_report.document["findings"]
    newest_first = sorted(findings, key=lambda f: datetime.fromisoformat(f["date"]), reverse=True)
    click_sort(browser, "introduced")
    assert visible_rows(browser) == [anchor_of(history_report, f) for f in newest_first]
    header = browser.find_element("css selector", 'th[data-sort="introduced"]')
    assert header.get_attribute("aria-sort") == "descending"
    click_sort(browser, "introduced")
    assert visible_rows(browser) == [anchor_of(history_report, f) for f in reversed(newest_first)]
    click_sort(browser, "location")
    by_path = sorted(findings, key=lambda f: f["path"])
    assert visible_rows(browser) == [anchor_of(history_report, f) for f in by_path]
    assert_clean(browser, history_report)


def test_table_filters_by_rule_author_head_and_date(browser: Any, history_report: Report) -> None:
    open_report(browser, history_report.url)
    findings = history_report.document["findings"]

    def expect(keep: Any) -> set[str]:
        return {anchor_of(history_report, f) for f in findings if keep(f)}

    set_filter(browser, "rule", "sonarqube-server-token")
    server = expect(lambda f: f["rule_id"] == "sonarqube-server-token")
    assert len(server) == 2 and set(visible_rows(browser)) == server
    assert browser.find_element(BY_ID, "shown-count").text == "2 of 4 shown"
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('article.finding')).map(a => a.id);"
    )
    assert set(cards) == server
    set_filter(browser, "rule", "")
    set_filter(browser, "author", "bob")
    assert set(visible_rows(browser)) == expect(lambda f: f["author"] == "Bob Builder")
    set_filter(browser, "author", "mallory")
    assert set(visible_rows(browser)) == expect(lambda f: f["author"] == HOSTILE_AUTHOR)
    set_filter(browser, "author", "")
    set_filter(browser, "head", "no")
    removed = expect(lambda f: not f["present_at_head"])
    assert len(removed) == 1 and set(visible_rows(browser)) == removed
    browser.find_element(BY_ID, "reset-filters").click()
    # The form's reset event redraws on the next task (setTimeout 0), after the click returns.
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(browser, 5).until(lambda b: len(visible_rows(b)) == HISTORY_FINDINGS)
    assert browser.find_element(BY_ID, "shown-count").text == "4 of 4 shown"
    set_filter(browser, "from", "2030-01-01")
    assert visible_rows(browser) == []
    set_filter(browser, "from", "2024-03-01")
    set_filter(browser, "to", "2024-03-01")
    assert len(visible_rows(browser)) == HISTORY_FINDINGS
    assert_clean(browser, history_report)


def test_deep_link_scrolls_to_and_highlights_the_finding(browser: Any, history_report: Report) -> None:
    open_report(browser, history_report.url)
    last = visible_rows(browser)[-1]
    open_report(browser, f"{history_report.url}#{last}")
    state = browser.execute_script(
        "const el = document.getElementById(arguments[0]);"
        "return {y: window.scrollY, top: el.getBoundingClientRect().top, target: el.matches(':target'),"
        " background: getComputedStyle(el).backgroundColor, height: window.innerHeight,"
        " bottom: Math.ceil(window.scrollY + window.innerHeight) >= document.documentElement.scrollHeight};",
        last,
    )
    assert state["target"] and state["y"] > 0
    # At the top of the window, or as far as the page scrolls (the last card sits at the end).
    assert 0 <= state["top"] < state["height"] and (state["top"] < 40 or state["bottom"])
    assert state["background"] == "rgb(255, 244, 191)"
    # A link to a finding hidden by a filter clears the filters and still gets there.
    at_head = [
        anchor_of(history_report, f) for f in history_report.document["findings"] if f["present_at_head"]
    ]
    first = next(anchor for anchor in at_head if anchor != last)
    set_filter(browser, "head", "no")
    assert first not in visible_rows(browser)
    browser.find_element("css selector", f'#timeline-svg a[href="#{first}"] rect')
    browser.execute_script("location.hash = arguments[0];", first)
    assert first in visible_rows(browser)
    assert browser.execute_script(
        "const el = document.getElementById(arguments[0]);"
        "return getComputedStyle(el).backgroundColor === 'rgb(255, 244, 191)';",
        first,
    )
    assert_clean(browser, history_report)


def test_timeline_has_one_bar_per_finding_with_its_dates(browser: Any, history_report: Report) -> None:
    open_report(browser, history_report.url)
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('#timeline-svg rect.bar')).map(r => ({"
        " id: r.dataset.finding, start: r.dataset.start, end: r.dataset.end,"
        " x: r.x.baseVal.value, width: r.width.baseVal.value}));"
    )
    findings = history_report.document["findings"]
    assert len(bars) == len(findings)
    generated = browser.find_element("css selector", ".meta").text.split("generated ")[1].split(" ")[0]
    by_id = {bar["id"]: bar for bar in bars}
    for finding in findings:
        bar = by_id[anchor_of(history_report, finding)]
        assert datetime.fromisoformat(bar["start"]) == datetime.fromisoformat(finding["date"])
        # A window ends where the default branch removed the secret, else at the report's time.
        removed = finding["exposure"]["removed_at"]
        assert datetime.fromisoformat(bar["end"]) == datetime.fromisoformat(removed or generated)
    # Bars start left to right in the order of their introduction.
    ordered = sorted(bars, key=lambda b: datetime.fromisoformat(b["start"]))
    assert [b["x"] for b in ordered] == sorted(b["x"] for b in bars)
    assert_clean(browser, history_report)


def test_removed_at_from_the_audit_ends_the_bar(browser: Any, history_report: Report, tmp_path: Path) -> None:
    document = json.loads(json.dumps(history_report.document))
    document["kind"] = "audit"
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    document["repositories"] = [
        {"name": "acme/app", "status": "scanned", "error": "", "refs": 3, "commits": 5, "blobs": 4},
        {"name": "acme/gone", "status": "failed", "error": "clone failed: not found"},
    ]
    for finding in document["findings"]:
        finding["repository"] = "acme/app"
    removed = next(f for f in document["findings"] if not f["present_at_head"])
    removed["exposure"]["removed_at"] = "2024-06-01T12:00:00+00:00"
    removed["validation"]["status"] = "live"
    page = tmp_path / "audit.html"
    page.write_text(render_html(document), encoding="utf-8")
    report = Report(page, document)
    open_report(browser, report.url)
    bar = browser.find_element("css selector", f'rect[data-finding="{anchor_of(report, removed)}"]')
    assert bar.get_attribute("data-end") == "2024-06-01T12:00:00+00:00"
    # A live token outranks everything, even once removed.
    assert visible_rows(browser)[0] == anchor_of(report, removed)
    assert "acme/gone" in browser.find_element(BY_ID, "incomplete").text
    set_filter(browser, "repository", "acme/app")
    assert len(visible_rows(browser)) == HISTORY_FINDINGS
    assert_clean(browser, report)


def test_scan_report_shows_files_without_a_timeline(browser: Any, scan_report: Report) -> None:
    open_report(browser, scan_report.url)
    assert len(visible_rows(browser)) == len(scan_report.document["findings"]) == 2
    assert browser.find_elements(BY_ID, "timeline-svg") == []
    paths = browser.execute_script(
        "return Array.from(document.querySelectorAll('#findings-table td.path')).map(td => td.textContent);"
    )
    assert any(HOSTILE_PATH in path for path in paths)
    assert_clean(browser, scan_report)


def test_hostile_names_are_text_not_markup(browser: Any, history_report: Report) -> None:
    open_report(browser, history_report.url)
    authors = browser.execute_script(
        "return Array.from(document.querySelectorAll('.author')).map(a => a.textContent);"
    )
    assert HOSTILE_AUTHOR in authors
    locations = browser.execute_script(
        "return Array.from(document.querySelectorAll('.location')).map(a => a.textContent);"
    )
    assert any(loc.startswith(HOSTILE_PATH + ":") for loc in locations)
    assert_clean(browser, history_report)


def test_the_payloads_do_run_when_not_escaped(browser: Any, tmp_path: Path) -> None:
    """Calibration: the planted names set their flags on a page that pastes them in raw."""
    page = tmp_path / "raw.html"
    page.write_text(
        f"<!DOCTYPE html><html><body><table><tr><td>{HOSTILE_AUTHOR}</td></tr></table>"
        f"<p>{HOSTILE_PATH}</p></body></html>",
        encoding="utf-8",
    )
    browser.get(page.as_uri())
    browser.implicitly_wait(0)
    flags = browser.execute_script("return Object.assign({}, document.body.dataset);")
    assert set(flags) == set(FLAGS)
    browser.get_log("browser")


@pytest.mark.parametrize("name", ["style", "script"])
def test_csp_allows_only_the_inline_assets_the_page_ships(
    browser: Any, history_report: Report, name: str
) -> None:
    open_report(browser, history_report.url)
    policy = browser.find_element("css selector", 'meta[http-equiv="Content-Security-Policy"]')
    content = policy.get_attribute("content")
    assert content.startswith("default-src 'none';")
    # Adding an inline element of the same kind is refused by the policy.
    probe = "document.body.dataset.injected = 1;" if name == "script" else "body { display: none; }"
    browser.execute_script(
        "const el = document.createElement(arguments[0]); el.textContent = arguments[1];"
        "document.head.appendChild(el);",
        name,
        probe,
    )
    errors = console_errors(browser)
    assert len(errors) == 1 and "Content Security Policy" in errors[0]
    assert browser.execute_script("return document.body.dataset.injected;") is None
    assert browser.find_element("tag name", "h1").is_displayed()


def test_large_report_lists_a_page_at_a_time_and_links_past_it(
    browser: Any, history_report: Report, tmp_path: Path
) -> None:
    document = json.loads(json.dumps(history_report.document))
    template = document["findings"][0]
    document["findings"] = [
        {**template, "fingerprint": f"{n:032x}", "line": n + 1, "path": f"src/f{n:03d}.env"}
        for n in range(450)
    ]
    page = tmp_path / "large.html"
    page.write_text(render_html(document), encoding="utf-8")
    report = Report(page, document)
    open_report(browser, report.url)
    assert len(visible_rows(browser)) == 200
    assert browser.find_element(BY_ID, "shown-count").text == "450 of 450 shown (first 200 listed)"
    assert len(browser.find_elements("css selector", "#timeline-svg rect.bar")) == 450
    browser.find_element(BY_ID, "show-more").click()
    assert len(visible_rows(browser)) == 400
    # A link to a finding past the listed ones lists its page and scrolls to it.
    target = anchor_of(report, document["findings"][440])
    open_report(browser, f"{report.url}#{target}")
    assert len(visible_rows(browser)) == 450 and visible_rows(browser)[440] == target
    top = browser.execute_script(
        "return document.getElementById(arguments[0]).getBoundingClientRect().top;", target
    )
    assert 0 <= top < 40
    assert_clean(browser, report)


def test_open_window_on_a_side_branch_has_days_and_reachable_refs(browser: Any, tmp_path: Path) -> None:
    """A token only on branch `side` (never removed, not at HEAD): its days count to the report's
    time and the table and card say which ref still reaches it (the JSON `exposure` block)."""
    from leakscan.synthetic import TokenGenerator
    from tests.browser.conftest import make_reports
    from tests.gitrepo import GitRepo, run_git

    path = tmp_path / "repo"
    path.mkdir()
    run_git(path, "init", "-q", "-b", "main")
    repo = GitRepo(path)
    repo.commit({"README": "hello\n"}, "start")
    repo.checkout("side", create=True)
    repo.commit({"side.properties": f"sonar.token={TokenGenerator('side').sqco()}\n"}, "leak on side")
    repo.checkout("main")
    (tmp_path / "out").mkdir()
    report = make_reports("history", path, tmp_path / "out")
    exposure = report.document["findings"][0]["exposure"]
    assert exposure["refs"] == ["side"] and exposure["days_exposed"] is None
    open_report(browser, report.url)
    (row,) = visible_rows(browser)
    cells = browser.execute_script(
        "return Array.from(document.getElementById('row-' + arguments[0]).cells).map(c => c.textContent);",
        row,
    )
    assert re.fullmatch(r"\d+", cells[-1]), cells
    assert "reachable from side" in " ".join(cells)
    card = browser.find_element(BY_ID, row).text
    assert (
        "still reachable from: side" in card
        and "exposed " in card
        and "not at HEAD, but still reachable" in card
    )
    assert console_errors(browser) == []
