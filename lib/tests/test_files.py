"""Storing a batch of new files: the same files as Django's storage, nothing overwritten, nothing left on failure."""

import os
import stat

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from lib import files


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path / "media", file_permissions_mode=0o640)


def test_files_are_stored_under_their_names_in_directories_made_as_needed(storage, tmp_path):
    names = files.save_new(
        storage, [("studies/1/a/x.png", b"first"), ("studies/1/a/y.png", b"second"), ("studies/2/b/z.dcm", b"")]
    )
    assert names == ["studies/1/a/x.png", "studies/1/a/y.png", "studies/2/b/z.dcm"]
    assert [(tmp_path / "media" / name).read_bytes() for name in names] == [b"first", b"second", b""]


def test_a_file_gets_the_mode_and_group_that_djangos_own_save_gives(storage, tmp_path):
    (name,) = files.save_new(storage, [("one/x.png", b"data")])
    django_name = storage.save("two/x.png", ContentFile(b"data"))
    ours, djangos = os.stat(storage.path(name)), os.stat(storage.path(django_name))
    assert stat.S_IMODE(ours.st_mode) == stat.S_IMODE(djangos.st_mode) == 0o640
    assert ours.st_gid == djangos.st_gid == os.stat(tmp_path / "media").st_gid


def test_a_taken_name_is_never_overwritten_and_another_is_returned(storage):
    existing = storage.save("studies/1/x.png", ContentFile(b"kept"))
    names = files.save_new(storage, [("studies/1/x.png", b"new"), ("studies/1/y.png", b"other")])
    assert names[0] != existing and names[0].startswith("studies/1/x") and names[1] == "studies/1/y.png"
    assert storage.open(existing).read() == b"kept" and storage.open(names[0]).read() == b"new"


def test_a_failure_part_way_removes_the_files_already_written(storage, tmp_path):
    storage.save("blocked", ContentFile(b"a file where a directory is needed"))
    with pytest.raises(OSError):
        files.save_new(storage, [("studies/1/x.png", b"first"), ("blocked/y.png", b"second")])
    assert not (tmp_path / "media" / "studies" / "1" / "x.png").exists()
    assert sorted(path.name for path in (tmp_path / "media").rglob("*") if path.is_file()) == ["blocked"]


def test_another_storage_gets_its_own_save():
    storage = InMemoryStorage()
    names = files.save_new(storage, [("a/x.png", b"first"), ("a/x.png", b"second")])
    assert names[0] == "a/x.png" and names[1] != names[0]
    assert [storage.open(name).read() for name in names] == [b"first", b"second"]


def test_directory_modes_are_left_to_djangos_save(tmp_path):
    storage = FileSystemStorage(location=tmp_path / "media", directory_permissions_mode=0o750)
    (name,) = files.save_new(storage, [("deep/er/x.png", b"data")])
    assert storage.open(name).read() == b"data"
    assert stat.S_IMODE(os.stat(tmp_path / "media" / "deep" / "er").st_mode) == 0o750
