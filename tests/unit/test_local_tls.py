"""The local stack's TLS folder is private: ours alone, 0700, never another user's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from local import tls


def test_a_new_folder_is_created_private_with_its_material(tmp_path: Path) -> None:
    folder = tmp_path / "stack" / "tls"
    paths = tls.ensure_tls(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths["key"].stat().st_mode) == 0o600
    assert paths["bundle"].read_text().endswith(paths["ca"].read_text())


def test_an_open_folder_of_ours_is_closed(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    tls.private_directory(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_folder_another_user_owns_is_refused_before_anything_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tls"
    folder.mkdir()
    (folder / "ca.pem").write_text("their CA")
    # We are someone else than the folder's owner.
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1)
    with pytest.raises(tls.TlsDirectoryNotPrivate, match="belongs to user id"):
        tls.ensure_tls(folder)
    assert (folder / "ca.pem").read_text() == "their CA"


def test_a_link_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "tls").symlink_to(elsewhere)
    with pytest.raises(tls.TlsDirectoryNotPrivate, match="not a folder"):
        tls.private_directory(tmp_path / "tls")


def test_the_script_says_what_to_do_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "tls"
    folder.mkdir()
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1)
    assert tls.main(["--dir", str(folder)]) == 1
    assert "STAX_LOCAL_TLS_DIR" in capsys.readouterr().err
