"""The course kit in the built books, in headless Chromium with no network: every chapter's self-check quiz answered
right and wrong (in the HTML book and from file://), the session slides, and the student edition's pages.

Run after `make book` and `make student` (make test does both first).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from test_book_browser import BUILD, _unavailable, browser, opened_page, servers  # noqa: F401 (fixtures)
from transformer_edu.viz.views import load_quiz

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import course_kit  # noqa: E402

STUDENT = ROOT / "_build" / "student"
CHAPTER_PAGES = sorted(p.stem for p in course_kit.chapter_paths())




def _feedback(question):
    box = question.locator("[data-te-role=feedback]")
    return box.get_attribute("data-te-state"), box.inner_text().strip()


def _wrong_number(q):
    return q["answer"] + max(1.0, 10 * q["tolerance"], abs(q["answer"]) * 0.5)


def _answer_every_question(page, chapter: int):
    """Each question answered wrong, then right: the feedback, the explanations and the score."""
    quiz = load_quiz(chapter)["questions"]
    view = page.locator("[data-te-view=quiz]")
    view.wait_for(timeout=30_000)
    questions = view.locator("[data-te-role=question]")
    assert questions.count() == len(quiz)
    for i, q in enumerate(quiz):
        box = questions.nth(i)
        box.scroll_into_view_if_needed()
        assert q["prompt"] in box.inner_text()
        if q["kind"] == "choice":
            wrong = next(k for k in range(len(q["options"])) if k != q["answer"])
            box.locator("input[data-te-control=option]").nth(wrong).check()
            box.locator("button[data-te-control=check]").click()
            state, text = _feedback(box)
            assert state == "wrong" and q["explanations"][wrong] in text, (chapter, q["id"], text)
            box.locator("input[data-te-control=option]").nth(q["answer"]).check()
            box.locator("button[data-te-control=check]").click()
            state, text = _feedback(box)
            assert state == "right" and q["explanations"][q["answer"]] in text, (chapter, q["id"], text)
        else:
            reveal = box.locator("button[data-te-control=reveal]")
            assert reveal.is_hidden()
            box.locator("input[data-te-control=number]").fill(f"{_wrong_number(q):,}")
            box.locator("button[data-te-control=check]").click()
            state, text = _feedback(box)
            assert state == "wrong" and q["hint"] in text and q["explanation"] not in text, (chapter, q["id"], text)
            assert reveal.is_visible()
            typed = f"{q['answer']:,}" if float(q["answer"]).is_integer() else repr(q["answer"])
            box.locator("input[data-te-control=number]").fill(typed)
            box.locator("input[data-te-control=number]").press("Enter")
            state, text = _feedback(box)
            assert state == "right" and q["explanation"] in text, (chapter, q["id"], typed, text)
    assert view.locator("[data-te-role=score]").inner_text() == f"{len(quiz)} of {len(quiz)} right"


@pytest.mark.parametrize("stem", CHAPTER_PAGES)
def test_quiz_answers_and_explains(browser, servers, stem):
    with opened_page(browser, servers["root"].base + f"chapters/{stem}.html", settle_ms=100) as (page, _):
        _answer_every_question(page, int(stem[:2]))


def test_quiz_from_file_url_and_reveal(browser):
    """Opened as a file (no server at all): the quiz still works, and "Show the answer" gives the value."""
    path = BUILD / "chapters" / f"{CHAPTER_PAGES[4]}.html"
    if not path.exists():
        _unavailable(f"no built page {path}: run `make book`")
    quiz = load_quiz(5)["questions"]
    index = next(i for i, q in enumerate(quiz) if q["kind"] == "number")
    context = browser.new_context()
    page = context.new_page()
    foreign = []
    page.on("request", lambda r: r.url.startswith(("http:", "https:")) and foreign.append(r.url))
    try:
        page.goto(path.as_uri(), wait_until="load")
        box = page.locator("[data-te-view=quiz] [data-te-role=question]").nth(index)
        box.wait_for(timeout=30_000)
        box.locator("input[data-te-control=number]").fill("not a number")
        box.locator("button[data-te-control=check]").click()
        assert _feedback(box)[0] == "wrong" and "Type a number" in _feedback(box)[1]
        box.locator("input[data-te-control=number]").fill(f"{_wrong_number(quiz[index])}")
        box.locator("button[data-te-control=check]").click()
        box.locator("button[data-te-control=reveal]").click()
        state, text = _feedback(box)
        assert state == "revealed" and f"{quiz[index]['answer']:,}" in text and quiz[index]["explanation"] in text
        assert foreign == []
    finally:
        context.close()


@pytest.mark.parametrize("session", list(course_kit.SESSIONS))
def test_session_slides_offline(browser, servers, session):
    """Each deck: reveal.js starts from the book's own copy, MathJax typesets, the arrow keys move on, and
    nothing is requested from another host."""
    deck = BUILD / "slides" / f"session-{session}.html"
    if not deck.exists():
        _unavailable(f"no slides at {deck}: run `make book`")
    with opened_page(browser, servers["root"].base + f"slides/session-{session}.html", settle_ms=100) as (page, log):
        page.wait_for_selector(".reveal.ready", timeout=30_000)
        title = page.locator(".reveal .slides section.present h1").first.inner_text()
        assert title.startswith(f"Session {session}:")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => !document.querySelector('.reveal .slides section.present h1')"
                               " || !document.querySelector('.reveal .slides section.present h1')"
                               ".textContent.startsWith('Session')", timeout=5_000)
        page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise", timeout=10_000)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        if page.locator(".reveal mjx-container").count() == 0:
            assert "$" not in page.locator(".reveal .slides").inner_text(), "TeX left untypeset"
        assert any("/_static/offline/reveal/" in u for u in log.requests)


def test_instructors_page_links_every_deck():
    page = BUILD / "book" / "instructors.html"
    if not page.exists():
        _unavailable(f"no built page {page}: run `make book`")
    html = page.read_text(encoding="utf-8")
    for session in course_kit.SESSIONS:
        assert f'href="../slides/session-{session}.html"' in html
        assert (BUILD / "slides" / f"session-{session}.html").exists()


def _student_pages():
    html = STUDENT / "html" / "chapters"
    if not html.is_dir():
        _unavailable(f"no student edition at {html}: run `make student`")
    return html


def test_student_pages_have_no_solution_lines():
    """No line of any worked solution (that the chapter does not also show elsewhere) in the student pages."""
    import html as html_lib
    import re

    folder = _student_pages()
    for path in course_kit.chapter_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        page = html_lib.unescape(re.sub(r"<[^>]+>", "", (folder / f"{path.stem}.html").read_text(encoding="utf-8")))
        assert "Student edition" in page
        for line in course_kit.solution_lines(nb, path.name):
            assert line not in page, f"{path.stem}: solution line {line!r} is in the student page"


def test_student_page_quiz_works_offline(browser):
    page_path = _student_pages() / f"{CHAPTER_PAGES[0]}.html"
    context = browser.new_context()
    page = context.new_page()
    foreign = []
    page.on("request", lambda r: r.url.startswith(("http:", "https:")) and foreign.append(r.url))
    try:
        page.goto(page_path.as_uri(), wait_until="load")
        _answer_every_question(page, 1)
        assert foreign == []
    finally:
        context.close()


def test_full_edition_keeps_its_solutions():
    page = BUILD / "chapters" / f"{CHAPTER_PAGES[4]}.html"
    if not page.exists():
        _unavailable(f"no built page {page}: run `make book`")
    assert "# Solution" in page.read_text(encoding="utf-8")
    assert os.environ.get("TE_BOOK_HTML") or (STUDENT / "html").resolve() != BUILD
