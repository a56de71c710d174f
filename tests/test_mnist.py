"""MNIST: IDX parsing, verified downloads from a local server, caching, real data."""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.server
import os
import stat
import threading
import time
import tracemalloc
import types
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pooch
import pytest
from helpers import assert_array

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.datasets import MnistError, download_mnist, load_mnist, read_idx
from xpnet.datasets import mnist as mnist_module

NAMES = [name for name, _, _ in mnist_module.FILES.values()]
#: The four files with 4 training and 3 test samples: the whole loader, in milliseconds.
SMALL_FILES = {
    key: (name, magic, 4 if key.startswith("train") else 3)
    for key, (name, magic, _) in mnist_module.FILES.items()
}
MiB = 1 << 20


def idx_header(magic: int, count: int) -> bytes:
    dims = (count, 28, 28) if magic == 2051 else (count,)
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def idx_values(magic: int, count: int, *, seed: int = 0) -> np.ndarray:
    """Random pixels 0-255, or labels 0-9."""
    shape = (count, 28, 28) if magic == 2051 else (count,)
    high = 256 if magic == 2051 else 10
    return np.random.default_rng(seed).integers(0, high, size=shape, dtype=np.uint8)


def idx_bytes(magic: int, count: int, *, seed: int = 0) -> bytes:
    return idx_header(magic, count) + idx_values(magic, count, seed=seed).tobytes()


def peak_memory(call: Callable[[], object]) -> int:
    """Bytes allocated at the peak of `call()` (tracemalloc sees NumPy's buffers too)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.fixture(scope="session")
def gzip_bomb(tmp_path_factory) -> Path:
    """A 1 MB gzip: a valid 3-label IDX file followed by 200 MB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "labels.gz"
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    zeros = bytes(MiB)
    with open(path, "wb") as file:
        file.write(packer.compress(idx_bytes(2049, 3)))
        for _ in range(200):
            file.write(packer.compress(zeros))
        file.write(packer.flush())
    return path


# --- parsing --------------------------------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_images_and_labels(tmp_path, compress) -> None:
    for magic, shape in ((2051, (3, 28, 28)), (2049, (3,))):
        raw = idx_bytes(magic, 3)
        path = tmp_path / f"f{magic}{'.gz' if compress else ''}"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        array = read_idx(path, magic, 3)
        assert array.shape == shape and array.dtype == np.uint8
        assert array.tobytes() == raw[len(raw) - array.size :]


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (lambda: idx_bytes(2051, 3)[:-10], "x", "truncated: 2358 bytes, the header implies 2368"),
        (lambda: idx_bytes(2051, 3) + b"\0", "x", "too long"),
        (lambda: idx_bytes(2049, 3), "x", "magic number is 2049, expected 2051"),
        (lambda: idx_bytes(2051, 4), "x", r"declares shape \(4, 28, 28\), expected \(3, 28, 28\)"),
        (lambda: b"<!DOCTYPE html><html>Not found</html>", "x.gz", "HTML/XML page"),
        (lambda: b"<!DOCTYPE html><html>Not found</html>", "x", "HTML/XML page"),
        (lambda: gzip.compress(idx_bytes(2051, 3))[:-20], "x.gz", "corrupt or truncated gzip"),
        (lambda: b"\0\0", "x", "shorter than the IDX header"),
    ],
)
@pytest.mark.reliability("data integrity")
def test_read_idx_names_the_file_and_the_problem(tmp_path, content, name, message) -> None:
    path = tmp_path / name
    path.write_bytes(content())
    with pytest.raises(MnistError, match=message) as info:
        read_idx(path, 2051, 3)
    assert str(path) in str(info.value)


@pytest.mark.backend_independent
@pytest.mark.reliability("data integrity")
def test_read_idx_refuses_labels_outside_0_to_9(tmp_path) -> None:
    """A label file holding 200 is refused, naming the file, the value and where it is."""
    path = tmp_path / "labels"
    path.write_bytes(idx_header(2049, 3) + bytes([3, 200, 1]))
    with pytest.raises(MnistError, match=r"labels: label 200 at index 1 is outside 0\.\.9"):
        read_idx(path, 2049, 3)


@pytest.mark.backend_independent
@pytest.mark.parametrize("kind", ["directory", "broken link"])
@pytest.mark.reliability("data integrity")
def test_read_idx_turns_os_errors_into_mnist_errors(tmp_path, kind) -> None:
    """A file that cannot be read is an MnistError naming it, not an OSError traceback."""
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    if kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "gone")
    with pytest.raises(MnistError) as info:
        read_idx(path, 2049, 3)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.backend_independent
@pytest.mark.reliability("resource bounds")
def test_gzip_bomb_is_read_no_further_than_its_header_implies(gzip_bomb, record_property) -> None:
    """A 1 MB gzip bomb (200 MB of zeros after a valid header) is 'too long' after 12 bytes."""
    errors: list[MnistError] = []

    def read() -> None:
        with pytest.raises(MnistError, match="too long") as info:
            read_idx(gzip_bomb, 2049, 3)
        errors.append(info.value)

    peak = peak_memory(read)
    record_property("peak memory (MiB)", round(peak / MiB, 2))
    assert peak < 16 * MiB
    assert str(errors[0]).startswith(f"{gzip_bomb}: too long: the data goes on past the 11 bytes")


# --- a local HTTP server ------------------------------------------------------------


class Mirror:
    """Serves `routes[path] = (status, body, delay_s)` on 127.0.0.1 and records hits."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.hits: list[str] = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.hits.append(self.path)
                status, body, delay = mirror.routes.get(self.path, (404, b"not found", 0.0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (time-out tests)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_backoff(monkeypatch) -> list[float]:
    """pooch waits 1 s, 2 s, ... between retries; record the waits instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


@pytest.fixture
def mirrors(no_backoff) -> Iterator[tuple[Mirror, Mirror]]:
    pair = (Mirror(), Mirror())
    yield pair
    for m in pair:
        m.close()


@pytest.fixture
def generated() -> dict[str, bytes]:
    """Small gzip IDX files for the four names, and their MD5s."""
    return {
        name: gzip.compress(idx_bytes(magic, 5, seed=i), mtime=0)
        for i, (name, magic, _) in enumerate(mnist_module.FILES.values())
    }


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(body).hexdigest() for name, body in files.items()}


def serve(mirror: Mirror, files: dict[str, bytes], status: int = 200, delay: float = 0.0) -> None:
    for name, body in files.items():
        mirror.routes[f"/{name}.gz"] = (status, body, delay)


def assert_only_final_files(folder: Path, expected: list[str]) -> None:
    assert sorted(os.listdir(folder)) == sorted(expected)


@pytest.mark.backend_independent
@pytest.mark.reliability("data integrity")
def test_download_verifies_and_leaves_only_complete_files(tmp_path, mirrors, generated) -> None:
    serve(mirrors[0], generated)
    folder = download_mnist(
        tmp_path / "data", mirrors=[mirrors[0].url], md5=md5s(generated), sha256={}
    )
    assert_only_final_files(folder, [f"{n}.gz" for n in NAMES])
    for name, body in generated.items():
        assert (folder / f"{name}.gz").read_bytes() == body
        mode = stat.S_IMODE((folder / f"{name}.gz").stat().st_mode)
        assert mode == 0o666 & ~umask(), oct(mode)  # like any file the user writes, not 0600
    assert sorted(mirrors[0].hits) == sorted(f"/{n}.gz" for n in NAMES)
    download_mnist(folder, mirrors=[mirrors[0].url], md5=md5s(generated), sha256={})
    assert len(mirrors[0].hits) == 4  # nothing fetched twice


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (lambda body: (200, body[:-7], 0.0), "checksum mismatch"),
        (lambda body: (200, b"<html><body>Moved</body></html>", 0.0), "HTML/XML page"),
        (lambda body: (200, gzip.compress(b"something else"), 0.0), "checksum mismatch"),
        (lambda body: (404, b"gone", 0.0), "404"),
        (lambda body: (500, b"oops", 0.0), "500"),
        (lambda body: (200, body, 1.0), "Timeout"),
    ],
)
@pytest.mark.reliability("data integrity")
def test_bad_mirror_falls_back_to_the_next(
    tmp_path, mirrors, no_backoff, generated, bad, reason
) -> None:
    first, second = mirrors
    for name, body in generated.items():
        first.routes[f"/{name}.gz"] = bad(body)
    serve(second, generated)
    folder = tmp_path / "data"
    download_mnist(
        folder,
        mirrors=[first.url, second.url],
        md5=md5s(generated),
        sha256={},
        timeout=0.2,
        retries=2,
    )
    assert_only_final_files(folder, [f"{n}.gz" for n in NAMES])
    assert len(second.hits) == 4
    # Network failures are retried by pooch (after a pause); a wrong file is not
    # fetched again from the same mirror.
    retried = reason in ("404", "500", "Timeout")
    assert len(first.hits) / 4 == (2 if retried else 1)
    assert len(no_backoff) == (4 if retried else 0)


@pytest.mark.backend_independent
@pytest.mark.reliability("data integrity")
def test_all_mirrors_failing_is_one_clear_error(tmp_path, mirrors, generated) -> None:
    first, second = mirrors
    for name, body in generated.items():
        first.routes[f"/{name}.gz"] = (200, body[:-3], 0.0)
        second.routes[f"/{name}.gz"] = (503, b"busy", 0.0)
    folder = tmp_path / "data"
    with pytest.raises(MnistError) as info:
        download_mnist(
            folder, mirrors=[first.url, second.url], md5=md5s(generated), sha256={}, retries=2
        )
    first_line, *details = str(info.value).splitlines()
    # The one line the command line shows: the file, how many mirrors, the most
    # telling reason (a wrong file says more than a busy server), and the fix.
    assert first_line.startswith(
        "Could not download train-images-idx3-ubyte.gz from any of 2 mirror(s) (most telling: "
        f"{first.url}train-images-idx3-ubyte.gz: checksum mismatch"
    )
    assert str(folder) in first_line and "XPNET_DATA" in first_line
    # Then every attempt, with its reason in full.
    url = "train-images-idx3-ubyte.gz"
    assert details == [
        "Attempts (3):",
        f"  {first.url}{url} (attempt 1): checksum mismatch: neither the gzip MD5 nor the "
        "payload SHA-256 is the published one",
        f"  {second.url}{url} (attempt 1): HTTPError: 503 Server Error: Service Unavailable "
        f"for url: {second.url}{url}",
        f"  {second.url}{url} (attempt 2): HTTPError: 503 Server Error: Service Unavailable "
        f"for url: {second.url}{url}",
    ]
    assert not folder.exists()  # created for the download, removed when it failed


@pytest.mark.backend_independent
@pytest.mark.reliability("resource bounds")
def test_download_of_a_gzip_bomb_is_hashed_as_a_bounded_stream(
    tmp_path, mirrors, gzip_bomb, record_property
) -> None:
    """A downloaded gzip bomb is hashed as a stream and refused past the real file's size."""
    mirrors[0].routes["/train-labels-idx1-ubyte.gz"] = (200, gzip_bomb.read_bytes(), 0.0)
    folder = tmp_path / "data"
    (folder / "other").mkdir(parents=True)
    for name in NAMES:
        if name != "train-labels-idx1-ubyte":
            (folder / name).write_bytes(b"present")
    errors: list[MnistError] = []

    def download() -> None:
        with pytest.raises(MnistError) as info:
            download_mnist(folder, mirrors=[mirrors[0].url], retries=1)
        errors.append(info.value)

    peak = peak_memory(download)
    record_property("peak memory (MiB)", round(peak / MiB, 2))
    assert peak < 32 * MiB  # the payload is 200 MB
    assert "too long: the payload goes on past the 60008 bytes" in str(errors[0]).splitlines()[0]
    assert sorted(os.listdir(folder)) == sorted(["other", *NAMES[:1], *NAMES[2:]])


@pytest.mark.backend_independent
@pytest.mark.reliability("data integrity")
def test_failed_download_leaves_no_new_folders(tmp_path, monkeypatch, no_backoff) -> None:
    """A mistyped data_dir is not left behind as an empty tree."""
    monkeypatch.setenv("XPNET_MNIST_MIRRORS", "http://127.0.0.1:1/")  # nothing listens there
    with pytest.raises(MnistError, match="Could not download"):
        load_mnist(data_dir=tmp_path / "typo" / "mnist")
    assert os.listdir(tmp_path) == []


@pytest.mark.backend_independent
@pytest.mark.reliability("faults")
def test_a_full_disk_is_not_blamed_on_the_mirrors(tmp_path, mirrors, monkeypatch) -> None:
    """A download that cannot be saved stops at once with the folder and the reason."""
    calls = []

    def disk_full(self, url, output_file, pooch_) -> None:
        calls.append(url)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", disk_full)
    folder = tmp_path / "data"
    with pytest.raises(MnistError) as info:
        download_mnist(folder, mirrors=[mirrors[0].url, mirrors[1].url])
    assert str(info.value) == (
        f"{folder}: cannot save train-images-idx3-ubyte.gz: No space left on device."
    )
    assert len(calls) == 1  # neither retried nor tried on the next mirror
    assert not folder.exists()


@pytest.mark.backend_independent
@pytest.mark.parametrize("how", ["data_dir", "XPNET_DATA"])
@pytest.mark.reliability("data integrity")
def test_data_folder_that_is_a_file_is_named(tmp_path, monkeypatch, how) -> None:
    """XPNET_DATA or data_dir naming a regular file is a clear error, and the file is kept."""
    path = tmp_path / "mnist.tar"
    path.write_bytes(b"not a folder")
    monkeypatch.setenv("XPNET_DATA", str(path))
    data_dir = path if how == "data_dir" else None
    for call in (lambda: load_mnist(data_dir=data_dir), lambda: download_mnist(data_dir)):
        with pytest.raises(MnistError) as info:
            call()
        assert str(info.value).startswith(f"{path}: is a file, not a folder; {how} must name")
    assert path.read_bytes() == b"not a folder"


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path.mkdir(), "is a directory, not an MNIST file"),
        (lambda path: path.symlink_to(path.parent / "gone"), "is a broken symbolic link"),
    ],
)
@pytest.mark.parametrize("download", [False, True])
@pytest.mark.reliability("data integrity")
def test_something_else_named_like_an_mnist_file_is_reported(
    tmp_path, monkeypatch, make, problem, download
) -> None:
    """A directory or broken link named like an MNIST file is reported, not taken as missing."""
    monkeypatch.setenv("XPNET_MNIST_MIRRORS", "http://127.0.0.1:1/")
    path = tmp_path / "train-images-idx3-ubyte.gz"
    make(path)
    with pytest.raises(MnistError) as info:
        load_mnist(data_dir=tmp_path, download=download, backend="numpy")
    assert str(info.value).startswith(f"{path}: {problem}")


@pytest.mark.backend_independent
@pytest.mark.reliability("data integrity")
def test_load_without_download_says_where_to_put_files(tmp_path) -> None:
    with pytest.raises(
        MnistError,
        match=r"MNIST files missing from .*: train-images-idx3-ubyte, .*Put the four files",
    ):
        load_mnist(data_dir=tmp_path, download=False)


# --- the loader and its cache, on small files ------------------------------------------


@pytest.fixture
def small_mnist(tmp_path, monkeypatch) -> Path:
    """A folder of the four files with 4 and 3 samples, and a loader that expects that."""
    monkeypatch.setattr(mnist_module, "FILES", SMALL_FILES)
    folder = tmp_path / "small"
    folder.mkdir()
    for seed, (name, magic, count) in enumerate(SMALL_FILES.values()):
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(magic, count, seed=seed)))
    return folder


def cache_name(folder: Path, name: str) -> str:
    """The cache's name: the source's SHA-256 says what it was built from."""
    source = folder / f"{name}.gz"
    return f"{name}.sha256-{hashlib.sha256(source.read_bytes()).hexdigest()[:16]}.npy"


def the_cache(folder: Path, name: str) -> Path:
    (cache,) = folder.glob(f"{name}.*.npy")
    return cache


def load_test_labels(backend, folder: Path) -> list[int]:
    _, (xt, tt) = load_mnist(data_dir=folder)
    assert_array(xt, backend=backend, dtype=backend.xp.float32, shape=(3, 784))
    assert_array(tt, backend=backend, dtype=index_dtype(backend.xp, backend.device), shape=(3,))
    return to_numpy(tt).tolist()


def test_small_files_load_on_the_backend(backend, small_mnist) -> None:
    (x, t), _ = load_mnist(data_dir=small_mnist, normalize=False, one_hot_label=True)
    assert_array(x, backend=backend, dtype=backend.xp.uint8, shape=(4, 784))
    assert_array(t, backend=backend, dtype=backend.xp.float32, shape=(4, 10))
    np.testing.assert_array_equal(to_numpy(x), idx_values(2051, 4, seed=0).reshape(4, 784))
    np.testing.assert_array_equal(to_numpy(t), np.eye(10)[idx_values(2049, 4, seed=1)])
    assert load_test_labels(backend, small_mnist) == idx_values(2049, 3, seed=3).tolist()


@pytest.mark.reliability("data integrity")
def test_replaced_source_with_an_older_mtime_is_parsed_again(backend, small_mnist) -> None:
    """As tar, rsync -a and cp -p leave files: the cache must not win by its date."""
    labels = small_mnist / "t10k-labels-idx1-ubyte.gz"
    assert load_test_labels(backend, small_mnist) == idx_values(2049, 3, seed=3).tolist()
    labels.write_bytes(gzip.compress(idx_header(2049, 3) + bytes([9, 8, 7])))
    os.utime(labels, (1e9, 1e9))  # 2001, older than the cache
    assert load_test_labels(backend, small_mnist) == [9, 8, 7]
    # One cache, named after the new source: the stale one was removed.
    assert the_cache(small_mnist, "t10k-labels-idx1-ubyte").name == cache_name(
        small_mnist, "t10k-labels-idx1-ubyte"
    )


def write_npy_header(path: Path, header: dict[str, object], payload: bytes) -> None:
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, header)
        file.write(payload)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: np.save(p, np.array([3, 200, 1], dtype=np.uint8)), id="label-200"),
        pytest.param(lambda p: np.save(p, np.array([3, 2, 1], dtype=np.int64)), id="int64"),
        pytest.param(lambda p: np.save(p, np.zeros((3, 1), dtype=np.uint8)), id="shape"),
        pytest.param(
            lambda p: write_npy_header(
                p, {"descr": "|u1", "fortran_order": False, "shape": (10**12,)}, b"\0" * 64
            ),
            id="terabyte-header",
        ),
        pytest.param(
            lambda p: write_npy_header(
                p, {"descr": "|u1", "fortran_order": False, "shape": (3,)}, b"\1"
            ),
            id="truncated",
        ),
        pytest.param(lambda p: p.write_bytes(b"\x93NUMPY\x01\x00garbage"), id="garbage"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    ],
)
@pytest.mark.reliability("data integrity")
def test_cache_that_fails_the_checks_is_rebuilt(backend, small_mnist, damage) -> None:
    """A cache is validated like fresh data; a bad one is never trusted nor a crash."""
    expected = idx_values(2049, 3, seed=3).tolist()
    assert load_test_labels(backend, small_mnist) == expected
    cache = the_cache(small_mnist, "t10k-labels-idx1-ubyte")
    damage(cache)
    assert load_test_labels(backend, small_mnist) == expected
    np.testing.assert_array_equal(np.load(cache), expected)  # rebuilt


# --- real MNIST ------------------------------------------------------------------------


@pytest.mark.mnist
def test_real_mnist_on_the_backend(backend, mnist_dir) -> None:
    (x, t), (xt, tt) = load_mnist(data_dir=mnist_dir)
    assert_array(x, backend=backend, dtype=backend.xp.float32, shape=(60000, 784))
    assert_array(t, backend=backend, dtype=index_dtype(backend.xp, backend.device), shape=(60000,))
    assert_array(xt, backend=backend, dtype=backend.xp.float32, shape=(10000, 784))
    host_x, host_t, host_tt = to_numpy(x), to_numpy(t), to_numpy(tt)
    assert host_x.min() == 0.0 and host_x.max() == 1.0
    assert host_t[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(host_t).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(host_tt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.mnist
def test_real_mnist_options(backend, mnist_dir) -> None:
    (x, t), _ = load_mnist(normalize=False, flatten=False, one_hot_label=True, data_dir=mnist_dir)
    assert_array(x, backend=backend, dtype=backend.xp.uint8, shape=(60000, 1, 28, 28))
    assert_array(t, backend=backend, dtype=backend.xp.float32, shape=(60000, 10))
    assert to_numpy(t[:2, ...]).argmax(axis=1).tolist() == [5, 0]
    assert int(to_numpy(x).max()) == 255


@pytest.fixture
def mnist_copy(tmp_path, mnist_dir) -> Path:
    """A writable folder with links to the real files."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in NAMES:
        (folder / f"{name}.gz").symlink_to(mnist_dir / f"{name}.gz")
    return folder


@pytest.mark.backend_independent
@pytest.mark.mnist
def test_cache_is_written_and_used(mnist_copy, monkeypatch) -> None:
    first = load_mnist(data_dir=mnist_copy, backend="numpy")
    assert sorted(p.name for p in mnist_copy.glob("*.npy")) == sorted(
        cache_name(mnist_copy, n) for n in NAMES
    )

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mnist_module, "read_idx", no_parsing)
    start = time.perf_counter()
    second = load_mnist(data_dir=mnist_copy, backend="numpy")
    assert time.perf_counter() - start < 5.0  # generous: the benchmark records the real figure
    np.testing.assert_array_equal(second[0][0], first[0][0])


@pytest.mark.backend_independent
@pytest.mark.mnist
def test_read_only_folder_caches_elsewhere(mnist_copy, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mnist_copy.chmod(0o555)
    try:
        load_mnist(data_dir=mnist_copy, backend="numpy")
    finally:
        mnist_copy.chmod(0o755)
    assert not list(mnist_copy.glob("*.npy"))
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 4


@pytest.mark.backend_independent
@pytest.mark.mnist
@pytest.mark.reliability("data integrity")
def test_damaged_local_file_is_named(mnist_copy) -> None:
    bad = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    bad.unlink()
    bad.write_bytes(gzip.compress(idx_bytes(2049, 9999)))
    with pytest.raises(
        MnistError, match=r"t10k-labels-idx1-ubyte.gz: header declares shape \(9999,\)"
    ):
        load_mnist(data_dir=mnist_copy, backend="numpy")


@pytest.mark.backend_independent
@pytest.mark.mnist
@pytest.mark.reliability("data integrity")
def test_download_real_files_from_a_local_mirror(
    tmp_path, mnist_dir, monkeypatch, no_backoff
) -> None:
    """The shared copies were re-compressed: accepted by their payload SHA-256."""
    mirror = Mirror()
    try:
        serve(mirror, {name: (mnist_dir / f"{name}.gz").read_bytes() for name in NAMES})
        monkeypatch.setenv("XPNET_MNIST_MIRRORS", f"http://127.0.0.1:1/,{mirror.url}")
        (x, t), _ = load_mnist(data_dir=tmp_path / "fresh", backend="numpy")
    finally:
        mirror.close()
    assert x.shape == (60000, 784) and t[:3].tolist() == [5, 0, 4]
    assert xpnet.to_numpy(x).dtype == np.float32
