"""Templates render what they mean: no comment leaks onto a page."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    [*ROOT.glob("templates/**/*.html"), *ROOT.glob("integrations/*/templates/**/*.html")]
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_a_one_line_comment_spread_over_several_lines(path):
    # Django's {# #} ends at the line's end: spread over lines, it is printed on the page.
    text = path.read_text()
    assert not [line for line in text.splitlines() if "{#" in line and "#}" not in line]
