"""SpamAssassin (Debian's, offline: `spamassassin -L -t`) scores the release email and the daily
briefing under 2.0, English and Arabic, as the SMTP peer received them, DKIM-signed; the rules
that fired are printed (`pytest -s` shows them)."""

from __future__ import annotations

import pytest

from tests.mail.spam import LIMIT, score, spamassassin


def test_spamassassin_is_there() -> None:
    spamassassin()  # fails with the fix when it is missing, rather than skipping the scores


@pytest.mark.timeout(600)
@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_release_email_scores_low(signed_mail: dict[str, bytes], language: str) -> None:
    report = score(signed_mail[language])
    print(f"\nSpamAssassin, release email ({language}): {report.table()}")
    assert report.score < LIMIT, report.table()
    # the one-click unsubscribe and list headers are there for the receiver to see
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in signed_mail[language]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_briefing_email_scores_low(signed_briefings: dict[str, bytes], language: str) -> None:
    report = score(signed_briefings[language])
    print(f"\nSpamAssassin, briefing email ({language}): {report.table()}")
    assert report.score < LIMIT, report.table()
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in signed_briefings[language]


def test_the_scorer_does_score() -> None:
    """A message that must score high does: the tests above are not passing on a dead scorer."""
    gtube = (
        b"From: a@b.example\r\nTo: d@e.example\r\nSubject: test\r\n"
        b"Date: Wed, 02 Dec 2026 11:28:37 +0000\r\nMessage-ID: <1.2.3@b.example>\r\n\r\n"
        b"This is the GTUBE, the Generic Test for Unsolicited Bulk Email\r\n\r\n"
        b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n\r\n"
    )
    report = score(gtube)
    assert report.score >= 1000 and "GTUBE" in {name for _, name, _ in report.rules}
