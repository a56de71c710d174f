"""MNIST: IDX parsing, verified downloads from a local server, caching, real data."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_array

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.datasets import MnistError, download_mnist, load_mnist, read_idx
from xpnet.datasets import mnist as mnist_module

NAMES = [name for name, _, _ in mnist_module.FILES.values()]


def idx_bytes(magic: int, count: int, *, seed: int = 0) -> bytes:
    dims = (count, 28, 28) if magic == 2051 else (count,)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    payload = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(dims)), dtype=np.uint8)
    return header + payload.tobytes()


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_images_and_labels(tmp_path, compress) -> None:
    for magic, shape in ((2051, (3, 28, 28)), (2049, (3,))):
        raw = idx_bytes(magic, 3)
        path = tmp_path / f"f{magic}{'.gz' if compress else ''}"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        array = read_idx(path, magic, 3)
        assert array.shape == shape and array.dtype == np.uint8
        assert array.tobytes() == raw[len(raw) - array.size :]


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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirrors() -> Iterator[tuple[Mirror, Mirror]]:
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


@pytest.mark.reliability("data integrity")
def test_download_verifies_and_leaves_only_complete_files(tmp_path, mirrors, generated) -> None:
    serve(mirrors[0], generated)
    folder = download_mnist(
        tmp_path / "data", mirrors=[mirrors[0].url], md5=md5s(generated), sha256={}
    )
    assert_only_final_files(folder, [f"{n}.gz" for n in NAMES])
    for name, body in generated.items():
        assert (folder / f"{name}.gz").read_bytes() == body
    assert sorted(mirrors[0].hits) == sorted(f"/{n}.gz" for n in NAMES)
    download_mnist(folder, mirrors=[mirrors[0].url], md5=md5s(generated), sha256={})
    assert len(mirrors[0].hits) == 4  # nothing fetched twice


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (lambda body: (200, body[:-7], 0.0), "checksum mismatch"),
        (lambda body: (200, b"<html><body>Moved</body></html>", 0.0), "HTML/XML page"),
        (lambda body: (200, gzip.compress(b"something else"), 0.0), "checksum mismatch"),
        (lambda body: (404, b"gone", 0.0), "404"),
        (lambda body: (500, b"oops", 0.0), "500"),
        (lambda body: (200, body, 3.0), "Timeout"),
    ],
)
@pytest.mark.reliability("data integrity")
def test_bad_mirror_falls_back_to_the_next(tmp_path, mirrors, generated, bad, reason) -> None:
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
        timeout=0.5,
        retries=2,
    )
    assert_only_final_files(folder, [f"{n}.gz" for n in NAMES])
    assert len(second.hits) == 4
    # Network failures are retried; a wrong file is not fetched again from the same mirror.
    per_file = len(first.hits) / 4
    assert per_file == (2 if reason in ("404", "500", "Timeout") else 1)


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
    message = str(info.value)
    assert message.splitlines()[0].startswith(
        "Could not download train-images-idx3-ubyte.gz from any of 2 mirror(s)"
    )
    assert str(folder) in message.splitlines()[0] and "XPNET_DATA" in message
    assert "checksum mismatch" in message and "503" in message
    assert_only_final_files(folder, [])


@pytest.mark.reliability("data integrity")
def test_load_without_download_says_where_to_put_files(tmp_path) -> None:
    with pytest.raises(
        MnistError,
        match=r"MNIST files missing from .*: train-images-idx3-ubyte, .*Put the four files",
    ):
        load_mnist(data_dir=tmp_path, download=False)


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


@pytest.mark.mnist
def test_cache_is_written_and_used(mnist_copy, monkeypatch) -> None:
    first = load_mnist(data_dir=mnist_copy, backend="numpy")
    assert sorted(p.name for p in mnist_copy.glob("*.npy")) == sorted(f"{n}.v1.npy" for n in NAMES)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mnist_module, "read_idx", no_parsing)
    start = time.perf_counter()
    second = load_mnist(data_dir=mnist_copy, backend="numpy")
    assert time.perf_counter() - start < 5.0  # generous: the benchmark records the real figure
    np.testing.assert_array_equal(second[0][0], first[0][0])


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


@pytest.mark.mnist
@pytest.mark.reliability("data integrity")
def test_download_real_files_from_a_local_mirror(tmp_path, mnist_dir, monkeypatch) -> None:
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
