"""Images a release may publish: every way to smuggle another file in is refused, with one line.

A local image must really be (symlinks followed) inside the release's folder or the media
folder, be a regular file under the size limit and be a JPEG, PNG, GIF or WebP by its bytes;
URLs are http(s) only. `validate`, `publish` and `site build` refuse the rest with exit 2, and
nothing that reads an image later (the site, Telegram) takes any path but the checked one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from publisher.channels.telegram import TelegramChannel
from publisher.errors import ReleaseError, ReleaseErrors, RenderError
from publisher.release import Image, Release, load_release, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.settings import reload_settings
from publisher.site import MANIFEST_NAME, build_site
from tests.conftest import ROOT, publisher_env, run_cli

if TYPE_CHECKING:
    from publisher.media import ImageFile

IMAGES = ROOT / "tests" / "data" / "images"  # tiny real images (CPython's imghdr test data)
JPEG = (IMAGES / "python.jpg").read_bytes()
PNG = (IMAGES / "python.png").read_bytes()
SECRET = b"PUBLISHER_SECRET_KEY=do-not-publish\n"
PUBLIC_URL = "https://press.example.org"
TEN_MIB = 10 * 1024 * 1024


@pytest.fixture(autouse=True)
def media_dir(tmp_path: Path) -> Iterator[Path]:
    """The media folder of a data dir of this test's own (PUBLISHER_DATA_DIR/media)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBLISHER_DATA_DIR", str(tmp_path / "var"))
        reload_settings()
        media = tmp_path / "var" / "media"
        media.mkdir(parents=True)
        yield media
    reload_settings()


@pytest.fixture
def ctx() -> RenderContext:
    return RenderContext(PUBLIC_URL, 5, "Press Office", Templates())


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside every folder a release may use, as the server's `.env` would be."""
    path = tmp_path / "server" / ".env"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def write_release(folder: Path, *images: str | dict[str, str], name: str = "r.md") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fields = {"id": "2020-02-11-photo", "title": "With a photo", "date": "2020-02-11"}
    front = yaml.safe_dump(fields | {"images": list(images)}, sort_keys=False)
    path = folder / name
    path.write_text(f"---\n{front}---\nThe text.\n", encoding="utf-8")
    return path


def refused(path: Path) -> ReleaseError:
    """The one problem of a release file, which must be its first image's."""
    with pytest.raises(ReleaseErrors) as caught:
        load_release(path)
    assert len(caught.value.errors) == 1, str(caught.value)
    error = caught.value.errors[0]
    assert error.field == "images[0].src"
    return error


# Each way in: (name, what to put in the release's folder, the image's src, words of the line).
Scene = Callable[[Path, Path], str]


def traversal(folder: Path, secret: Path) -> str:
    return os.path.relpath(secret, folder)  # ../server/.env, however deep tmp_path is


def dot_dot_etc_passwd(folder: Path, secret: Path) -> str:
    return "../../../../../../../../etc/passwd"


def absolute_outside(folder: Path, secret: Path) -> str:
    return str(secret)


def etc_passwd(folder: Path, secret: Path) -> str:
    return "/etc/passwd"


def symlink_outside(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").symlink_to(secret)
    return "photo.jpg"


def symlink_to_passwd(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").symlink_to("/etc/passwd")
    return "photo.jpg"


def symlink_to_a_folder_outside(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").symlink_to(secret.parent, target_is_directory=True)
    return "photo.jpg"


def symlink_to_a_folder_inside(folder: Path, secret: Path) -> str:
    (folder / "pictures").mkdir()
    (folder / "photo.jpg").symlink_to(folder / "pictures", target_is_directory=True)
    return "photo.jpg"


def a_folder(folder: Path, secret: Path) -> str:
    (folder / "pictures.jpg").mkdir()
    return "pictures.jpg"


def the_release_folder_itself(folder: Path, secret: Path) -> str:
    return "."


def text_named_jpg(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").write_bytes(SECRET)
    return "photo.jpg"


def oversized(folder: Path, secret: Path) -> str:
    with open(folder / "huge.jpg", "wb") as handle:  # sparse: a JPEG header, then holes
        handle.write(JPEG[:16])
        handle.truncate(TEN_MIB + 1)
    return "huge.jpg"


def fifo(folder: Path, secret: Path) -> str:
    os.mkfifo(folder / "photo.jpg")  # opening it to read would block the build forever
    return "photo.jpg"


def symlink_to_dev_zero(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").symlink_to("/dev/zero")
    return "photo.jpg"


def symlink_loop(folder: Path, secret: Path) -> str:
    (folder / "photo.jpg").symlink_to(folder / "photo.jpg")
    return "photo.jpg"


def missing(folder: Path, secret: Path) -> str:
    return "missing.jpg"


def url(src: str) -> Scene:
    def scene(folder: Path, secret: Path) -> str:
        return src

    scene.__name__ = src.split(":", 1)[0] + "_url"
    return scene


WAYS_IN: list[tuple[Scene, str]] = [
    (traversal, "outside the release's folder and the media folder"),
    (dot_dot_etc_passwd, "outside the release's folder and the media folder"),
    (absolute_outside, "outside the release's folder and the media folder"),
    (etc_passwd, "outside the release's folder and the media folder"),
    (symlink_outside, "outside the release's folder and the media folder"),
    (symlink_to_passwd, "outside the release's folder and the media folder"),
    (symlink_to_a_folder_outside, "outside the release's folder and the media folder"),
    (symlink_to_a_folder_inside, "is a folder"),
    (a_folder, "is a folder"),
    (the_release_folder_itself, "is a folder"),
    (text_named_jpg, "is not a JPEG, PNG, GIF or WebP image"),
    (oversized, "over the 10 MiB limit"),
    (fifo, "is not a regular file"),
    (symlink_to_dev_zero, "outside the release's folder and the media folder"),
    (symlink_loop, "cannot be resolved"),
    (missing, "no file 'missing.jpg' next to the release"),
    (url("file:///etc/passwd"), "is not an http(s) URL"),
    (url("data:image/png;base64,iVBORw0KGgo="), "is not an http(s) URL"),
    (url("ftp://example.org/photo.jpg"), "is not an http(s) URL"),
    (url("javascript:alert(1)"), "is not an http(s) URL"),
    (url("https:///etc/passwd"), "is not a complete URL"),
]
WAY_IDS = [scene.__name__ for scene, _ in WAYS_IN]


@pytest.mark.parametrize(("scene", "words"), WAYS_IN, ids=WAY_IDS)
def test_validation_refuses_each_way_in_with_one_line(
    tmp_path: Path, secret: Path, scene: Scene, words: str
) -> None:
    folder = tmp_path / "releases"
    folder.mkdir()
    path = write_release(folder, {"src": scene(folder, secret), "alt": "x"})

    error = refused(path)

    line = str(error)
    assert words in line
    assert line.startswith(f"{path}: images[0].src: ")
    assert "; fix: " in line and "\n" not in line
    assert SECRET.decode().strip() not in line


def test_outside_reads_the_same_whether_or_not_the_file_exists(tmp_path: Path) -> None:
    """A caller of the API cannot learn which of the server's files exist from the message."""
    folder = tmp_path / "releases"
    there = refused(write_release(folder, "../../../../../../etc/passwd")).problem
    absent = refused(write_release(folder, "../../../../../../etc/no-such-file")).problem
    assert there.replace("passwd", "X") == absent.replace("no-such-file", "X")


def test_the_size_limit_is_ten_mib() -> None:
    from publisher.media import MAX_IMAGE_BYTES

    assert MAX_IMAGE_BYTES == TEN_MIB


def test_a_device_in_an_allowed_folder_is_not_a_regular_file() -> None:
    from publisher.media import check_image

    with pytest.raises(ReleaseError, match="is not a regular file"):
        check_image("/dev/zero", "r.md", "images[0].src", None, media_dir=Path("/dev"))


@pytest.mark.parametrize("name", ["python.jpg", "python.png", "python.gif", "python.webp"])
def test_real_images_next_to_the_release_are_checked_and_kept(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "releases"
    folder.mkdir()
    shutil.copy(IMAGES / name, folder / name)

    release = load_release(write_release(folder, {"src": name, "alt": "Rubble"}))

    (image,) = release.images
    assert image.src == name and image.alt == "Rubble"
    assert image.file is not None
    assert image.file.path == str((folder / name).resolve())
    assert image.file.size == (IMAGES / name).stat().st_size
    assert release.to_json()["images"] == [{"src": name, "alt": "Rubble", "caption": ""}]


def test_a_subfolder_and_a_link_inside_the_folder_give_the_resolved_file(tmp_path: Path) -> None:
    folder = tmp_path / "releases"
    (folder / "pictures").mkdir(parents=True)
    (folder / "pictures" / "real.png").write_bytes(PNG)
    (folder / "alias.png").symlink_to("pictures/real.png")

    release = load_release(write_release(folder, "pictures/real.png", "alias.png"))

    real = str((folder / "pictures" / "real.png").resolve())
    assert [image.file.path for image in release.images if image.file] == [real, real]


def test_images_in_the_media_folder_serve_file_and_api_releases(
    tmp_path: Path, media_dir: Path
) -> None:
    (media_dir / "upload.png").write_bytes(PNG)
    from_file = load_release(write_release(tmp_path / "releases", str(media_dir / "upload.png")))
    from_api = release_from_mapping(
        {"title": "From the API", "date": "2020-02-11", "body": "x", "images": ["upload.png"]}
    )
    for release in (from_file, from_api):
        assert release.images[0].file is not None
        assert release.images[0].file.path == str((media_dir / "upload.png").resolve())


@pytest.mark.parametrize("src", ["../secret.png", "/tmp/../etc/passwd", "{outside}"])
def test_a_release_without_a_file_may_only_use_the_media_folder(
    tmp_path: Path, media_dir: Path, src: str
) -> None:
    outside = tmp_path / "elsewhere.png"  # a real image, but in no folder the release may use
    outside.write_bytes(PNG)
    (media_dir.parent / "secret.png").write_bytes(PNG)
    data = {"title": "API", "date": "2020-02-11", "body": "x"}
    with pytest.raises(ReleaseErrors) as caught:
        release_from_mapping(data | {"images": [src.format(outside=outside)]}, "api")
    (error,) = caught.value.errors
    assert error.field == "images[0].src" and "outside" in error.problem


def test_an_https_url_is_kept_as_it_is(tmp_path: Path) -> None:
    url = "https://cdn.example.org/img/1.jpg?size=large"
    release = load_release(write_release(tmp_path / "releases", url))
    assert release.images == (Image(src=url),)


def swap(path: Path, make: Callable[[Path], object]) -> None:
    """Replace a file at once by what `make` creates (as an attacker would: rename over it)."""
    temp = path.with_name(f".{path.name}.new")
    make(temp)
    os.replace(temp, path)


def checked(path: Path) -> ImageFile:
    from publisher.media import check_image

    result = check_image(path.name, "r.md", "images[0].src", path.parent)
    assert result is not None
    return result


def test_open_image_takes_only_the_file_that_was_checked(tmp_path: Path, secret: Path) -> None:
    from publisher.media import copy_image, open_image

    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    image = checked(photo)
    os.link(photo, tmp_path / "kept.png")  # so no later file can be given its inode number
    with open_image(image) as handle:
        assert handle.read() == PNG

    swap(photo, lambda temp: temp.symlink_to(secret))  # a link put in its place
    with pytest.raises(OSError):
        open_image(image)

    swap(photo, lambda temp: temp.write_bytes(PNG))  # another file, same name and bytes
    with pytest.raises(ReleaseError, match="no longer the file that was checked"):
        open_image(image)

    image = checked(photo)
    photo.write_bytes(SECRET)  # the same file, rewritten as something else
    with pytest.raises(ReleaseError, match="not a JPEG, PNG, GIF or WebP"):
        copy_image(image, open(os.devnull, "wb"))


# --- the site ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("scene", "words"), WAYS_IN, ids=WAY_IDS)
def test_site_build_refuses_each_way_in_and_writes_nothing(
    tmp_path: Path, secret: Path, ctx: RenderContext, scene: Scene, words: str
) -> None:
    folder, out = tmp_path / "releases", tmp_path / "site"
    folder.mkdir()
    write_release(folder, scene(folder, secret))

    with pytest.raises(ReleaseErrors) as caught:
        build_site([folder], out, ctx)

    assert [e.field for e in caught.value.errors] == ["images[0].src"]
    assert words in str(caught.value)
    assert not out.exists()


def site_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_an_image_swapped_for_a_link_after_a_build_is_refused_next_time(
    tmp_path: Path, secret: Path, ctx: RenderContext
) -> None:
    folder, out = tmp_path / "releases", tmp_path / "site"
    folder.mkdir()
    (folder / "photo.png").write_bytes(PNG)
    write_release(folder, "photo.png")
    build_site([folder], out, ctx)
    published = out / "releases" / "2020-02-11-photo" / "photo.png"
    assert published.read_bytes() == PNG

    (folder / "photo.png").unlink()
    (folder / "photo.png").symlink_to(secret)
    with pytest.raises(ReleaseErrors, match="outside the release's folder"):
        build_site([folder], out, ctx)

    assert published.read_bytes() == PNG
    assert all(SECRET not in data for data in site_files(out).values())


def test_a_link_dressed_as_the_checked_file_is_not_copied(
    tmp_path: Path, ctx: RenderContext
) -> None:
    """A symlink given the image's size and mtime still is not the file that was checked."""
    folder, out = tmp_path / "releases", tmp_path / "site"
    folder.mkdir()
    secret = tmp_path / "s"  # a target path exactly as long as the image is big
    secret.write_bytes(SECRET)
    target = str(secret)
    image = JPEG[:16] + b"\0" * (len(target) - 16)
    (folder / "photo.jpg").write_bytes(image)
    write_release(folder, "photo.jpg")
    build_site([folder], out, ctx)
    published = out / "releases" / "2020-02-11-photo" / "photo.jpg"
    stat = (folder / "photo.jpg").stat()
    published.unlink()  # so the next build copies the image again
    os.link(folder / "photo.jpg", tmp_path / "kept.jpg")  # its inode number stays taken

    swap(folder / "photo.jpg", lambda temp: temp.symlink_to(target))
    os.utime(folder / "photo.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns), follow_symlinks=False)
    link = os.lstat(folder / "photo.jpg")
    assert (link.st_size, link.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    with pytest.raises(ReleaseErrors, match="outside the release's folder"):
        build_site([folder], out, ctx)
    assert not published.exists()
    assert (out / MANIFEST_NAME).exists()


# --- Telegram ---------------------------------------------------------------------------------


def test_telegram_names_the_checked_resolved_path(tmp_path: Path, ctx: RenderContext) -> None:
    folder = tmp_path / "releases"
    (folder / "pictures").mkdir(parents=True)
    (folder / "pictures" / "real.png").write_bytes(PNG)
    (folder / "photo.png").symlink_to("pictures/real.png")
    release = load_release(write_release(folder, "photo.png"))

    messages = TelegramChannel.render(release, body_parts(release), ctx)["messages"]

    assert messages[-1]["photo"] == str((folder / "pictures" / "real.png").resolve())


def test_telegram_refuses_a_local_image_that_was_never_checked(ctx: RenderContext) -> None:
    release = release_from_mapping({"title": "t", "date": "2020-02-11", "body": "x"})
    unchecked = Release(**{**vars(release), "images": (Image(src="/etc/passwd"),)})
    with pytest.raises(RenderError, match="never validated"):
        TelegramChannel.render(unchecked, body_parts(unchecked), ctx)


# --- the command line -------------------------------------------------------------------------

CLI_WAYS_IN = [traversal, symlink_outside, text_named_jpg, url("file:///etc/passwd")]


@pytest.mark.parametrize("scene", CLI_WAYS_IN, ids=[s.__name__ for s in CLI_WAYS_IN])
def test_cli_validate_and_site_build_refuse_with_exit_2(
    tmp_path: Path, secret: Path, scene: Scene
) -> None:
    folder, out = tmp_path / "releases", tmp_path / "site"
    folder.mkdir()
    path = write_release(folder, scene(folder, secret))
    env = publisher_env(tmp_path / "var")

    validated = run_cli("validate", str(path), env=env)
    built = run_cli("site", "build", str(folder), "--out", str(out), env=env)

    for result in (validated, built):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"{path}: images[0].src: " in lines[0] and "; fix: " in lines[0]
    assert not out.exists()


def test_cli_publish_refuses_before_anything_is_stored(tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "photo.jpg").symlink_to(secret)
    path = write_release(folder, "photo.jpg")

    result = run_cli("publish", str(path), env=publisher_env(tmp_path / "var"))

    assert result.returncode == 2, result.stderr
    assert f"{path}: images[0].src: " in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "var" / "redis").exists()


def test_cli_site_build_publishes_a_real_image(tmp_path: Path) -> None:
    folder, out = tmp_path / "releases", tmp_path / "site"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(JPEG)
    write_release(folder, {"src": "photo.jpg", "alt": "Rubble"}, "https://cdn.example.org/a.png")

    result = run_cli("site", "build", str(folder), "--out", str(out), env=publisher_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert (out / "releases" / "2020-02-11-photo" / "photo.jpg").read_bytes() == JPEG
