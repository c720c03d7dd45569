"""The one renderer and the one C-literal module: missing values are errors, HTML is escaped, C literals are exact."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from markupsafe import Markup

from drsn_edge.errors import DrsnError
from drsn_edge.render import render
from firmware_export.c_literals import (c_comment, c_double, c_float, c_identifier, c_initializer, c_string,
                                        number_array)


def test_text_templates_keep_their_text_and_refuse_missing_values(tmp_path: Path) -> None:
    (tmp_path / "a.c.in").write_text("#define N {{ N }}\nconst char *s = {{ S }}; /* <{{ N }}> & */\n")
    assert render(tmp_path, "a.c.in", {"N": 3, "S": c_string('a"<b>')}) == (
        '#define N 3\nconst char *s = "a\\042<b>"; /* <3> & */\n')  # C escaping only, trailing newline kept
    with pytest.raises(DrsnError, match="a.c.in needs a value"):
        render(tmp_path, "a.c.in", {"N": 3})


def test_html_templates_escape_what_is_not_marked_safe(tmp_path: Path) -> None:
    (tmp_path / "p.html.in").write_text("<h1>{{ title }}</h1>{{ table }}")
    page = render(tmp_path, "p.html.in", {"title": "a<b & c", "table": Markup("<table></table>")})
    assert page == "<h1>a&lt;b &amp; c</h1><table></table>"


def test_c_literals_are_exact() -> None:
    for value in (0.1, 1.0, 1e-45, 3.4028234663852886e38, -2.5e-7):
        assert float(c_double(value)) == value
        assert np.float32(float(c_float(value)[:-1])) == np.float32(value) and c_float(value).endswith("f")
    assert c_double(2.0) == "2.0" and c_float(2.0) == "2.0f"
    assert c_initializer(["1", "2"]) == "{1, 2}" and c_comment("a */ b") == "/* a _/ b */"
    assert number_array("w", "int8_t", list(range(20)), "weights").splitlines()[:2] == [
        "/* weights */", "static const int8_t w[20] = {"]
    with pytest.raises(ValueError):
        c_identifier("2x")
