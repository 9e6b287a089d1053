"""`publisher import`: a plain-text news page becomes one release file per dated item."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from publisher.errors import ReleaseErrors
from publisher.importer import (
    ImportedItem,
    decode_page,
    import_file,
    import_page,
    make_title,
    parse_item_header,
    write_releases,
)
from publisher.release import load_release, make_id
from publisher.render import html_to_text, markdown_to_html

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SEED = DATA / "seed_page.txt"  # a copy of seeds/000_374336cb1175cc21.txt
EXAMPLES = ROOT / "examples" / "releases"
MEDIA_DEPARTMENT = "Syrian National Coalition’s Media Department"
PAGE_CHROME = ("Home Media Center", "filtered by date", "# # #", "(Source:", "Press release")


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed_items(seed_text: str) -> list[ImportedItem]:
    return import_page(seed_text, "seed.txt")


def test_seed_imports_into_its_four_items(seed_items: list) -> None:  # type: ignore[type-arg]
    assert [(i.date, i.category, i.language) for i in seed_items] == [
        (date(2020, 2, 11), "Press Releases", "en"),
        (date(2020, 2, 11), "Coalition News", "en"),
        (date(2020, 2, 11), "Local News", "en"),
        (date(2020, 2, 11), "Local News", "en"),
    ]
    assert [i.source for i in seed_items] == [
        "Syrian National Coalition - Syria, Department of Media and Communications",
        MEDIA_DEPARTMENT,
        MEDIA_DEPARTMENT,
        MEDIA_DEPARTMENT,
    ]
    assert seed_items[0].paragraphs[0].startswith("The Assad regime forces on Tuesday")
    assert "Robert Rohde" in seed_items[1].paragraphs[0]
    assert "Saraqib" in seed_items[2].paragraphs[0]
    assert "seven civilians were killed" in seed_items[3].paragraphs[0]
    for item in seed_items:
        assert item.title and len(item.title) <= 90
        assert item.summary and item.paragraphs[0].startswith(item.summary[:40])
        assert item.id == make_id(item.title, datetime.combine(item.date, time()))


def test_seed_keeps_every_paragraph_and_no_page_chrome(
    seed_text: str,
    seed_items: list[ImportedItem],
) -> None:
    assert [len(i.paragraphs) for i in seed_items] == [5, 5, 5, 7]
    kept = [p for item in seed_items for p in item.paragraphs]
    for line in seed_text.splitlines():
        text = line.split(" (Source:")[0].strip()
        # Every sentence-long line of the page (except the date filter) is some paragraph.
        if len(text.split()) > 12 and "filtered by date" not in text:
            assert text in kept
    for item in seed_items:
        for chrome in (*PAGE_CHROME, "Coalition News\n", "Department of Media"):
            assert chrome not in item.body
        assert item.paragraphs[-1].endswith((".", "”"))
    assert seed_items[0].paragraphs[-1].startswith("May our heroes emerge victorious.")


def test_written_files_validate_and_round_trip(
    seed_items: list[ImportedItem], tmp_path: Path
) -> None:
    written = write_releases(seed_items, tmp_path)
    assert [p.name for p in written] == [f"{i.id}.md" for i in seed_items]
    assert written.skipped == []
    for path, item in zip(written, seed_items, strict=True):
        release = load_release(path)
        assert release.id == item.id == path.stem
        assert (release.title, release.category, release.source) == (
            item.title,
            item.category,
            item.source,
        )
        assert release.date.date() == item.date
        assert release.summary == item.summary and release.language == "en"
        assert "date: 2020-02-11\n" in path.read_text(encoding="utf-8")
        # The body shows exactly the page's paragraphs: nothing became a heading or a list.
        html = markdown_to_html(release.body)
        assert "<h1" not in html and "<ol" not in html and "<ul" not in html
        assert html_to_text(html).split("\n\n") == list(item.paragraphs)


def test_importing_twice_writes_nothing_the_second_time(tmp_path: Path) -> None:
    first_written, first_skipped = import_file(SEED, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    second_written, second_skipped = import_file(SEED, tmp_path)
    assert len(first_written) == 4 and first_skipped == []
    assert second_written == [] and second_skipped == first_written
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_existing_file_is_never_overwritten(
    seed_items: list[ImportedItem], tmp_path: Path
) -> None:
    mine = tmp_path / f"{seed_items[0].id}.md"
    mine.write_text("my edited release\n", encoding="utf-8")
    result = write_releases(seed_items, tmp_path)
    assert result.skipped == [mine] and len(result) == 3
    assert mine.read_text(encoding="utf-8") == "my edited release\n"


def test_windows_line_endings_and_a_bom_import_the_same(
    seed_text: str,
    seed_items: list[ImportedItem],
) -> None:
    raw = ("\ufeff" + seed_text.replace("\n", "\r\n")).encode("utf-8")
    items = import_page(decode_page(raw, "win.txt"), "win.txt")
    assert [(i.id, i.paragraphs, i.source) for i in items] == [
        (i.id, i.paragraphs, i.source) for i in seed_items
    ]


def test_an_arabic_page_imports(tmp_path: Path) -> None:
    written, skipped = import_file(DATA / "arabic_page.txt", tmp_path)
    releases = [load_release(p) for p in written]
    assert skipped == [] and len(releases) == 3
    assert {r.language for r in releases} == {"ar"} and {r.direction for r in releases} == {"rtl"}
    assert {r.date.date() for r in releases} == {date(2020, 2, 11)}
    assert [r.category for r in releases] == ["بيانات صحفية", "أخبار الائتلاف", "الأخبار المحلية"]
    assert [r.source for r in releases] == [
        "الائتلاف الوطني السوري، دائرة الإعلام والاتصال",
        "الدائرة الإعلامية للائتلاف الوطني السوري",
        "",
    ]
    assert releases[0].title.startswith("شنّت قوات نظام الأسد")
    for release in releases:
        for chrome in ("الرئيسية", "حسب التاريخ", "المصدر", "بيان صحفي", "# # #"):
            assert chrome not in release.body
    # A paragraph starting with "-" stays a paragraph, not a list.
    assert "<ul" not in markdown_to_html(releases[2].body)
    assert "- وأفاد ناشطون" in html_to_text(markdown_to_html(releases[2].body))


def test_a_page_with_headlines_other_dates_and_navigation(tmp_path: Path) -> None:
    items = import_page((DATA / "english_page.txt").read_text(encoding="utf-8"), "page.txt")
    assert [(i.date, i.category, i.source) for i in items] == [
        (date(2020, 3, 3), "Statements", ""),
        (date(2020, 3, 4), "Op-Eds", ""),
    ]
    assert items[0].title == "Coalition calls for a no-fly zone over Idlib"
    # "U.S." does not end the lede's first sentence.
    assert items[0].summary.endswith("impose a no-fly zone over northwestern Syria.")
    assert items[0].paragraphs[2:] == (
        "1. Stop the bombing.",
        "- Open the crossings.",
        "# Protect the displaced.",
    )
    for item in items:
        for chrome in ("Read more", "Share", "Next", "Page 1 of 3", "Home", "Search"):
            assert chrome not in item.paragraphs
        assert not any("filtered by date" in p for p in item.paragraphs)
    paths = write_releases(items, tmp_path)
    html = markdown_to_html(load_release(paths[0]).body)
    assert "<h1" not in html and "<ol" not in html and "<ul" not in html
    html = markdown_to_html(load_release(paths[1]).body)
    assert "<b>" not in html and "<em>" not in html
    assert html_to_text(html).split("\n\n")[1] == items[1].paragraphs[1]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("11 February 2020 In Press Releases", (date(2020, 2, 11), "Press Releases", "en")),
        ("3 Mar 2021 in Local News", (date(2021, 3, 3), "Local News", "en")),
        ("Tuesday, 11 February 2020 In News", (date(2020, 2, 11), "News", "en")),
        ("February 11, 2020 In Statements", (date(2020, 2, 11), "Statements", "en")),
        ("11 فبراير 2020 في بيانات صحفية", (date(2020, 2, 11), "بيانات صحفية", "ar")),
        ("١١ تشرين الأول ٢٠٢٠ في الأخبار", (date(2020, 10, 11), "الأخبار", "ar")),
        ("5 شباط/فبراير 2020 في أخبار", (date(2020, 2, 5), "أخبار", "ar")),
        ("11 février 2020 dans Communiqués", (date(2020, 2, 11), "Communiqués", "fr")),
        ("11 February 2020", None),
        ("February 11, 2020", None),
        ("30 February 2020 In News", None),
        ("11 Smarch 2020 In News", None),
        ("The attack on 11 February 2020 in Idlib killed seven civilians.", None),
        ("11 February 2020 in Idlib, regime jets killed seven civilians.", None),
        ("Home Media Center Items filtered by date: Tuesday, 11 February 2020", None),
    ],
)
def test_item_header_lines(line: str, expected: tuple[date, str, str] | None) -> None:
    assert parse_item_header(line) == expected


def test_titles_are_cut_at_a_word_boundary() -> None:
    sentence = (
        "The Syrian Civil Defense on Tuesday said that seven civilians were killed and 22 others"
        " wounded in Assad regime airstrikes. More followed."
    )
    title = make_title(sentence)
    assert title.endswith("…") and len(title) <= 90
    assert sentence.startswith(title[:-1]) and sentence[len(title) - 1] == " "
    assert make_title("Short “quoted” statement. Then more.") == "Short “quoted” statement"


def test_items_with_the_same_title_get_distinct_ids_and_repeats_are_dropped() -> None:
    page = (
        "11 February 2020 In News\n\nThe Coalition met the envoy in Berlin.\n\nFirst.\n\n"
        "11 February 2020 In News\n\nThe Coalition met the envoy in Berlin.\n\nSecond.\n\n"
        "11 February 2020 In News\n\nThe Coalition met the envoy in Berlin.\n\nSecond.\n"
    )
    items = import_page(page, "p.txt")
    assert [i.paragraphs[1] for i in items] == ["First.", "Second."]
    assert items[1].id == items[0].id + "-2"
    assert items[1].to_markdown().startswith(f"---\nid: {items[1].id}\n")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"Coalition News\nNothing dated here.\n", "no dated items found"),
        (b"", "no dated items found"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is binary, not text"),
        ("11 février 2020".encode("latin-1"), "is not UTF-8 (bad byte at offset 4)"),
        (b"11 February 2020 In News\n\n\n", "no dated items found"),
    ],
)
def test_bad_pages_raise_one_clear_error(tmp_path: Path, raw: bytes, problem: str) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(raw)
    with pytest.raises(ReleaseErrors) as caught:
        import_file(page, tmp_path / "out")
    (error,) = caught.value.errors
    assert (error.file, error.field, error.problem) == (str(page), "page", problem)
    assert str(page) in str(caught.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    if problem == "no dated items found":
        assert "11 February 2020 In Press Releases" in error.fix


def test_garbage_text_raises() -> None:
    with pytest.raises(ReleaseErrors, match="is binary"):
        import_page("\x01\x02\x03\x04\x05 11 February 2020 In News \x06\x07", "junk")


def test_every_example_release_loads() -> None:
    releases = {p.name: load_release(p) for p in sorted(EXAMPLES.glob("*.md"))}
    assert len(releases) >= 6
    for name, release in releases.items():
        assert name == f"{release.id}.md"
    by_id = {r.id: r for r in releases.values()}
    arabic = [r for r in releases.values() if r.language == "ar"]
    assert len(arabic) == 1 and arabic[0].direction == "rtl" and arabic[0].links
    original = by_id[arabic[0].translation_of or ""]
    assert original.category == "Press Releases" and original.language == "en"
    assert any(r.override("x", "thread") and r.override("telegram", "text") for r in by_id.values())
