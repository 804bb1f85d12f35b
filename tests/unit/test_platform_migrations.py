from __future__ import annotations

import re

from telltale.platform.migrate import discover


def test_migrations_are_numbered_and_ordered():
    found = discover()
    assert found, "no migrations found"
    versions = [m.version for m in found]
    assert versions == sorted(versions)
    assert len({v[:4] for v in versions}) == len(versions), "two migrations share a number"
    for v in versions:
        assert re.match(r"^\d{4}_[a-z0-9_]+$", v), v


def test_checksum_tracks_content(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0002_b.sql").write_text("SELECT 2;")
    first = {m.version: m.checksum for m in discover(tmp_path)}
    (tmp_path / "0002_b.sql").write_text("SELECT 3;")
    second = {m.version: m.checksum for m in discover(tmp_path)}
    assert first["0001_a"] == second["0001_a"] and first["0002_b"] != second["0002_b"]
    assert list(first) == ["0001_a", "0002_b"]
