"""The release email's HTML as a person sees it: headless Chromium (Playwright) renders the HTML
part the SMTP peer received, English and Arabic; the page reads right to left in Arabic, the
footer is there, readable and inside the page.

`python -m tests.mail.test_screenshots` writes docs/screenshots/email-en.png and email-ar.png.
"""

from __future__ import annotations

import email
import os
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.mail.mailing import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDTH_PX = 720  # a mail client's reading pane


def html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def shoot(pages: dict[str, str], folder: Path) -> dict[str, dict[str, Any]]:
    """Render each page; save `{name}.png` in `folder`; what the browser measured."""
    from playwright.sync_api import sync_playwright

    measured: dict[str, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": WIDTH_PX, "height": 900})
            for name, html in pages.items():
                page.set_content(html, wait_until="load")
                page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
                measured[name] = page.evaluate(MEASURE)
        finally:
            browser.close()
    return measured


MEASURE = """() => {
  const wrapper = document.querySelector('.wrapper');
  const footer = document.querySelector('.footer');
  const box = (el) => { const r = el.getBoundingClientRect();
                        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const style = getComputedStyle(footer);
  return {
    direction: getComputedStyle(wrapper).direction,
    footer_direction: style.direction,
    footer_text: footer.innerText,
    footer_box: box(footer), wrapper_box: box(wrapper),
    page_width: document.documentElement.scrollWidth,
    footer_color: style.color, footer_font_px: parseFloat(style.fontSize),
    links: Array.from(footer.querySelectorAll('a')).map(a => [a.innerText, a.href]),
    footer_align_right: footer.querySelector('p').getBoundingClientRect().right,
    headings: Array.from(wrapper.querySelectorAll('h2')).map(h => h.innerText.trim()),
    items: wrapper.querySelectorAll('li a[href*="/releases/"]').length,
  };
}"""


def mail_pages(mail: dict[str, bytes], briefings: dict[str, bytes]) -> dict[str, str]:
    """`email-en`, `email-ar`, `briefing-en`, `briefing-ar`: each email's HTML part."""
    pages = {f"email-{language}": html_part(raw) for language, raw in mail.items()}
    pages |= {f"briefing-{language}": html_part(raw) for language, raw in briefings.items()}
    return pages


@pytest.fixture(scope="module")
def measured(
    signed_mail: dict[str, bytes],
    signed_briefings: dict[str, bytes],
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    assert Path(CHROMIUM).exists(), f"headless Chromium is needed at {CHROMIUM} (.ci/run)"
    folder = tmp_path_factory.mktemp("screens")
    return shoot(mail_pages(signed_mail, signed_briefings), folder), folder


@pytest.mark.parametrize("name", ["email-en", "email-ar", "briefing-en", "briefing-ar"])
def test_the_footer_is_visible_and_readable(measured: Any, name: str) -> None:
    found, folder = measured
    seen = found[name]
    assert (folder / f"{name}.png").stat().st_size > 10_000
    footer, wrapper = seen["footer_box"], seen["wrapper_box"]
    assert footer["bottom"] - footer["top"] > 40  # several lines tall
    assert wrapper["left"] <= footer["left"] and footer["right"] <= wrapper["right"]
    assert seen["page_width"] <= WIDTH_PX  # nothing runs off to the side
    assert seen["footer_font_px"] >= 12
    red, green, blue = (int(v) for v in seen["footer_color"][4:-1].split(",")[:3])
    assert max(red, green, blue) <= 0x60, seen["footer_color"]  # dark grey on white
    assert "Istanbul 34000" in seen["footer_text"]
    hrefs = [href for _, href in seen["links"]]
    assert any("/preferences/" in h for h in hrefs) and any("/unsubscribe/" in h for h in hrefs)


@pytest.mark.parametrize("kind", ["email", "briefing"])
def test_the_arabic_email_reads_right_to_left(measured: Any, kind: str) -> None:
    found, _ = measured
    arabic, english = found[f"{kind}-ar"], found[f"{kind}-en"]
    assert arabic["direction"] == arabic["footer_direction"] == "rtl"
    assert english["direction"] == "ltr"
    # a right-to-left paragraph ends at the right edge of its box
    assert abs(arabic["footer_align_right"] - arabic["footer_box"]["right"]) < 2
    assert [text for text, _ in arabic["links"]] == ["تعديل اختياراتك", "إلغاء الاشتراك"]


def test_the_briefing_groups_the_day_by_category(measured: Any) -> None:
    found, _ = measured
    assert found["briefing-en"]["headings"] == ["Press Releases", "Coalition News", "Local News"]
    assert found["briefing-ar"]["headings"] == ["بيانات صحفية", "أخبار الائتلاف"]
    assert found["briefing-en"]["items"] == 3 and found["briefing-ar"]["items"] == 2


def main() -> None:
    """Write the screenshots kept in docs/screenshots/ (signed English and Arabic release
    emails and briefings)."""
    import tempfile

    from tests.mail.mailing import make_key, received, received_briefings
    from tests.peers.smtp import SMTPPeer

    folder = ROOT / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as keys, SMTPPeer() as peer:
        key = make_key(Path(keys))
        pages = mail_pages(received(peer, key), received_briefings(peer, key))
    shoot(pages, folder)
    for name in pages:
        print(folder / f"{name}.png", file=sys.stderr)


if __name__ == "__main__":
    main()
