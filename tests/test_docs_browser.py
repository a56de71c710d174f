"""The documentation as a reader sees it: every page of the built site, in headless Chromium.

Runs in `nox -s docs-browser`, which builds the site (or reuses build/site when
it is newer than its sources) and names it in XPNET_DOCS_SITE; skipped
elsewhere. The site is served on 127.0.0.1 by a thread of this process; a
request for anything outside it is refused and reported, so a page that
needs the network fails. A full-page screenshot of the tutorial is kept in
build/docs-browser/ (the CI artifact).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import bound

ROOT = Path(__file__).parents[1]
SITE = os.environ.get("XPNET_DOCS_SITE")
SHOTS = ROOT / "build" / "docs-browser"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.backend_independent,
    pytest.mark.skipif(
        not SITE, reason="the browser check runs in `nox -s docs-browser` (XPNET_DOCS_SITE unset)"
    ),
]


def nav_pages() -> dict[str, str]:
    """Every page in mkdocs.yml's nav: source file -> path on the site."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags for MkDocs; the nav needs none of them.
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    files: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str):
            files.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(config["nav"])
    pages = {}
    for file in files:
        if "://" in file:  # an external link in the nav
            continue
        stem = file.removesuffix(".md")
        pages[file] = "" if stem == "index" else stem.removesuffix("/index") + "/"
    return pages


def chromium() -> str:
    found = os.environ.get("XPNET_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium not found: apt-get install chromium, or set XPNET_CHROMIUM")
    return found


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The site served on 127.0.0.1 by a thread; stopped whatever the tests do."""
    assert SITE is not None
    handler = functools.partial(QuietHandler, directory=str(Path(SITE).resolve()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=bound(60))


@pytest.fixture(scope="module")
def browser(base_url, tmp_path_factory) -> Iterator[Any]:
    """Headless Chromium with a fresh profile; requests outside the site are refused."""
    sync_api = pytest.importorskip("playwright.sync_api")
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium(), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith((base_url, "data:")):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", route)
        try:
            yield context, outside
        finally:
            context.close()


# What a page shows, read in the browser once it has loaded.
INSPECT = """() => {
    const text = (root) => {
        const copy = root.cloneNode(true);
        copy.querySelectorAll("pre, code, script, style, .katex").forEach((e) => e.remove());
        return copy.textContent;
    };
    const body = text(document.body);
    return {
        images: Array.from(document.images).map((i) => [i.currentSrc.slice(0, 60), i.naturalWidth]),
        formulas: document.querySelectorAll(".arithmatex").length,
        unrendered: Array.from(document.querySelectorAll(".arithmatex"))
            .filter((e) => !e.querySelector(".katex")).map((e) => e.textContent.slice(0, 60)),
        katex: document.querySelectorAll(".katex").length,
        raw: ["\\\\(", "\\\\["].filter((d) => body.includes(d)),
        dollars: (body.match(/[^\\n]{0,30}\\$[^\\n]{0,30}/g) || []).slice(0, 3),
        roles: (body.match(/:(?:class|func|meth|attr|data|mod|exc|obj):/g) || []).length,
        katexFont: document.fonts.check("16px KaTeX_Main"),
    };
}"""


def open_page(context: Any, url: str) -> tuple[Any, list[str], dict[str, Any]]:
    """Load `url`; the page, the problems seen while loading it, and what it shows."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.goto(url, wait_until="networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")
    return page, problems, page.evaluate(INSPECT)


def test_the_nav_lists_the_tutorial() -> None:
    assert "tutorial.md" in nav_pages()


def test_every_page_renders_in_chromium(base_url, browser) -> None:
    """No console errors, every image loaded, every formula typeset by KaTeX, nothing outside."""
    context, outside = browser
    report: dict[str, list[str]] = {}
    formulas = 0
    for file, path in nav_pages().items():
        page, problems, shown = open_page(context, base_url + path)
        problems += [f"image not loaded: {src}" for src, width in shown["images"] if not width]
        problems += [f"formula not rendered: {tex}" for tex in shown["unrendered"]]
        problems += [f"raw TeX delimiter {d} in the text" for d in shown["raw"]]
        problems += [f"stray $ (a formula not typeset): {text!r}" for text in shown["dollars"]]
        if shown["roles"]:
            problems.append(f"{shown['roles']} raw Sphinx roles (:class:, :func:...) in the text")
        if shown["katex"] and not shown["katexFont"]:
            problems.append("KaTeX's fonts did not load")
        if file == "tutorial.md":
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "tutorial.png"), full_page=True)
            if not shown["katex"]:
                problems.append("no formula typeset by KaTeX (the tutorial has several)")
        formulas += shown["katex"]
        page.close()
        if problems:
            report[file] = problems
    report.update({"(outside the site)": outside} if outside else {})
    if report:
        pytest.fail(
            "\n".join(f"{file}: {line}" for file, lines in report.items() for line in lines)
        )
    assert formulas > 0
    assert (SHOTS / "tutorial.png").stat().st_size > 10_000


def test_search_finds_numerical_gradient(base_url, browser) -> None:
    page, problems, _ = open_page(browser[0], base_url)
    page.click("input.md-search__input")  # opens the search, as a reader's click does
    page.keyboard.type("numerical_gradient")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=bound(60) * 1000)
    texts = results.all_text_contents()
    page.close()
    assert problems == []
    assert any("numerical_gradient" in text for text in texts), texts[:3]


def _api_rows(anchor: str) -> dict[str, str]:
    """Parameter -> default as the built API page shows them for the object at `anchor`."""
    import html
    import re

    assert SITE is not None
    page = (Path(SITE) / "api" / "index.html").read_text()
    start = page.index(f'id="{anchor}"')
    end = page.find('class="doc doc-heading"', page.index("</h", start))  # the next object
    section = page[start : end if end > 0 else None]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, flags=re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", " ", c)).split()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        if len(cells) >= 4 and cells[0]:
            rows[cells[0][0]] = " ".join(cells[-1])
    return rows


def test_the_api_page_shows_no_raw_role_and_the_right_defaults() -> None:
    """Roles rendered as links; each default as the signature has it (not a group's first)."""
    import re

    assert SITE is not None
    page = (Path(SITE) / "api" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", "", page)
    assert not re.findall(r":(?:class|func|meth|attr|data|mod|exc|obj):", text)
    train = _api_rows("xpnet.training.train")
    assert train["train_data"] == "required" and train["test_data"] == "None", train
    adam = _api_rows("xpnet.optim.Adam")
    assert (adam["beta1"], adam["beta2"]) == ("0.9", "0.999"), adam
