"""train(sampling="epoch"): every sample once per epoch, on every backend, resumable, compiled."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.errors import CheckpointError, ResumeWarning
from xpnet.training.sampling import EpochSampler


def numbered(backend, n=120, d=6, c=3, seed=0):
    """Blobs whose first feature is the sample's number (so a batch says which samples it holds)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.3, size=(n, d)) + np.eye(c, d)[labels] * 2
    x[:, 0] = np.arange(n)
    return (
        xpnet.asarray(x, dtype="float32"),
        xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)),
    )


class Recording(xpnet.TwoLayerNet):
    """TwoLayerNet that notes the sample numbers of every training batch (eager runs only)."""

    seen: list[list[int]]

    def loss_gradient_buffers(self, x, t, **kwargs):
        self.seen.append(to_numpy(x[:, 0]).astype(int).tolist())
        return super().loss_gradient_buffers(x, t, **kwargs)


@pytest.mark.parametrize(("drop_last", "sizes"), [(False, [25, 25, 25, 25, 20]), (True, [25] * 4)])
def test_sampler_visits_every_sample_once_per_epoch(backend, drop_last, sizes) -> None:
    sampler = EpochSampler(120, 25, seed=3, drop_last=drop_last)
    epoch = len(sizes)
    rows = sampler.indices(0, 3 * epoch, backend=backend)
    assert rows.shape == (3 * epoch, 25) and rows.dtype == index_dtype(backend.xp, backend.device)
    assert xpnet.backend.device(rows) == backend.device
    host = to_numpy(rows)
    assert [sampler.size(i) for i in range(epoch)] == sizes
    orders = []
    for e in range(3):
        taken = [host[e * epoch + k, : sizes[k]] for k in range(epoch)]
        order = np.concatenate(taken)
        if drop_last:
            assert len(set(order.tolist())) == 100
        else:
            assert sorted(order.tolist()) == list(range(120))
        orders.append(order.tolist())
        assert (host[e * epoch : (e + 1) * epoch] < 120).all()  # padding is valid indices too
    assert orders[0] != orders[1] != orders[2]  # shuffled anew for each epoch
    # A pure function of the seed and the iteration, the same on every backend:
    np.testing.assert_array_equal(to_numpy(sampler.indices(7, 11, backend=backend)), host[7:11])
    again = EpochSampler(120, 25, seed=3, drop_last=drop_last).indices(
        0, 3 * epoch, backend="numpy"
    )
    np.testing.assert_array_equal(again, host)


@pytest.mark.parametrize("drop_last", [False, True])
def test_train_sees_every_sample_once_per_epoch(backend, drop_last) -> None:
    data = numbered(backend)
    net = Recording(6, 8, 3, seed=0)
    net.seen = []
    h = xpnet.train(
        net, data, iters=15, batch_size=25, sampling="epoch", drop_last=drop_last,
        lr=0.1, seed=1, verbose=0, compile=False,
    )  # fmt: skip
    per_epoch = 4 if drop_last else 5
    assert h.eval_iters == [0, *range(per_epoch, 15, per_epoch), 14][: len(h.eval_iters)]
    assert h.eval_iters[1] == per_epoch  # the default evaluation interval is one epoch
    for e in range(15 // per_epoch):
        batches = net.seen[e * per_epoch : (e + 1) * per_epoch]
        samples = [i for batch in batches for i in batch]
        assert len(samples) == len(set(samples)) == (100 if drop_last else 120)
    assert [len(b) for b in net.seen[:per_epoch]] == ([25] * 4 + ([] if drop_last else [20]))


def test_with_replacement_stays_the_default(backend) -> None:
    data = numbered(backend)
    net = Recording(6, 8, 3, seed=0)
    net.seen = []
    h = xpnet.train(net, data, iters=5, batch_size=40, lr=0.1, seed=1, verbose=0, compile=False)
    assert h.config["sampling"] == "with-replacement" and h.config["drop_last"] is False
    drawn = xpnet.random.BatchSampler(120, 40, seed=1).indices(0, 5, backend="numpy")
    assert net.seen == drawn.tolist()


def test_a_resumed_epoch_run_is_the_uninterrupted_one(backend, tmp_path) -> None:
    """17 iterations (mid-epoch), continued to 40: the same as 40 at once."""
    data = numbered(backend)
    settings = dict(batch_size=25, sampling="epoch", lr=0.1, seed=2, verbose=0)
    whole = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    expected = xpnet.train(whole, data, data, iters=40, **settings)
    path = tmp_path / "run.npz"
    first = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    xpnet.train(first, data, data, iters=17, checkpoint=path, **settings)
    later = xpnet.TwoLayerNet(6, 8, 3, seed=5)
    resumed = xpnet.train(later, data, data, iters=40, checkpoint=path, resume=True, **settings)
    assert resumed.train_loss == expected.train_loss
    assert resumed.eval_iters == expected.eval_iters
    for name, value in whole.params.items():
        np.testing.assert_array_equal(to_numpy(later.params[name]), to_numpy(value))


def test_resume_takes_or_refuses_the_sampling(backend, tmp_path) -> None:
    data = numbered(backend)
    path = tmp_path / "run.npz"
    net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    xpnet.train(net, data, iters=6, batch_size=25, sampling="epoch", seed=2, checkpoint=path,
                verbose=0)  # fmt: skip
    with pytest.raises(CheckpointError, match="sampling: 'epoch' -> 'with-replacement'"):
        xpnet.train(net, data, iters=9, batch_size=25, sampling="with-replacement", seed=2,
                    checkpoint=path, resume=True, verbose=0)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = xpnet.train(net, data, iters=9, batch_size=25, seed=2, checkpoint=path, resume=True,
                        verbose=0)  # fmt: skip
    assert h.config["sampling"] == "epoch"
    assert any(issubclass(w.category, ResumeWarning) and "sampling='epoch'" in str(w.message)
               for w in caught)  # fmt: skip


def test_compiled_epoch_run_equals_the_eager_one(backend) -> None:
    """Short batches included: the loop's chunks keep their shape, the short batch is one step."""
    if backend.library.compiler is None:
        pytest.skip(f"{backend.name} has no compiler")
    data = numbered(backend)
    runs = []
    for compiled in (False, True):
        net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
        runs.append(xpnet.train(net, data, iters=23, batch_size=25, sampling="epoch", lr=0.1,
                                seed=2, verbose=0, compile=compiled))  # fmt: skip
    np.testing.assert_allclose(runs[1].train_loss, runs[0].train_loss, rtol=1e-5)
    assert runs[1].eval_iters == runs[0].eval_iters == [0, 5, 10, 15, 20, 22]


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampling": "shuffle"}, "`sampling` must be one of"),
        ({"drop_last": "yes"}, "`drop_last` must be True or False"),
    ],
)
def test_bad_sampling_settings(kwargs, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        xpnet.TrainConfig(**kwargs)


@pytest.mark.backend_independent
def test_drop_last_needs_a_full_batch() -> None:
    with pytest.raises(ValueError, match="leaves no batch"):
        EpochSampler(10, 20, seed=0, drop_last=True)


@pytest.mark.backend_independent
def test_the_command_line_passes_sampling_on() -> None:
    from xpnet.cli._parser import build_parser
    from xpnet.cli._train import SETTINGS

    args = build_parser().parse_args(["train", "--sampling", "epoch", "--drop-last"])
    assert {"sampling", "drop_last"} <= set(SETTINGS)
    assert (args.sampling, args.drop_last) == ("epoch", True)
    assert build_parser().parse_args(["train"]).sampling is None  # left to TrainConfig
