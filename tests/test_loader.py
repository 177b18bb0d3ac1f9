"""Tensor loader: determinism, every example once per epoch, stored order for eval, augmentation."""

import pytest
import torch

from divekit.data.loader import Augment, TensorLoader, as_channels_last, hflip, random_crop
from divekit.data.split import train_valid_split


def toy(n=103):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return images, torch.arange(n) % 5


def test_each_epoch_covers_every_example_once_and_orders_differ():
    x, y = toy()
    loader = TensorLoader(x, y, 10, shuffle=True, seed=3, std=1 / 255)  # pixels come out unscaled
    assert len(loader) == 11
    orders = []
    for epoch in range(3):
        loader.set_epoch(epoch)
        seen = torch.cat([xb[:, 0, 0, 0] for xb, _ in loader]).round().long()
        assert sorted(seen.tolist()) == list(range(103))
        orders.append(seen)
    assert not torch.equal(orders[0], orders[1])


def test_same_seed_same_batches_other_seed_other_batches():
    x, y = toy()
    a = [b for b, _ in TensorLoader(x, y, 16, shuffle=True, seed=1, augment=Augment(1, True))]
    b = [b for b, _ in TensorLoader(x, y, 16, shuffle=True, seed=1, augment=Augment(1, True))]
    c = [b for b, _ in TensorLoader(x, y, 16, shuffle=True, seed=2, augment=Augment(1, True))]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a, c, strict=True))


def test_eval_order_is_stored_order_and_normalisation():
    x, y = toy(20)
    loader = TensorLoader(x, y, 8, shuffle=False, mean=0.5, std=0.25)
    xs, ys = zip(*loader, strict=True)
    assert torch.equal(torch.cat(ys), y)
    expected = (torch.arange(20).float() / 255 - 0.5) / 0.25
    assert torch.allclose(torch.cat(xs)[:, 0, 0, 0], expected, atol=1e-6)


def test_drop_last_and_channels_last_and_resize():
    x, y = toy(20)
    loader = TensorLoader(x, y, 8, drop_last=True, channels_last=True, resize=(6, 6))
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert batches[0][0].shape == (8, 1, 6, 6)
    assert batches[0][0].is_contiguous(memory_format=torch.channels_last)


def test_random_crop_shifts_within_padding():
    img = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    img[0, 0, 2, 2] = 255
    gen = torch.Generator().manual_seed(0)
    positions = set()
    for _ in range(200):
        out = random_crop(img, 2, gen)
        assert out.shape == img.shape and out.sum() == 255  # never loses the pixel with pad 2
        positions.add(tuple(torch.nonzero(out[0, 0])[0].tolist()))
    assert positions == {(r, c) for r in range(5) for c in range(5)}


def test_hflip_mirrors_about_half():
    x = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).expand(1000, 1, 1, 4)
    out = hflip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.45 < flipped < 0.55
    assert torch.equal(out[out[:, 0, 0, 0] == 3][0, 0, 0], torch.tensor([3.0, 2, 1, 0]))


def test_split_partitions_and_stratifies():
    y = torch.tensor([0] * 80 + [1] * 20)
    tr, va = train_valid_split(y, 0.25, seed=0)
    assert sorted(torch.cat([tr, va]).tolist()) == list(range(100))
    assert y[va].bincount().tolist() == [20, 5]
    tr2, va2 = train_valid_split(y, 0.25, seed=0)
    assert torch.equal(va, va2)
    assert not torch.equal(va, train_valid_split(y, 0.25, seed=1)[1])
    tr3, va3 = train_valid_split(y, 0.3, seed=0, stratify=False)
    assert len(va3) == 30 and len(set(tr3.tolist()) & set(va3.tolist())) == 0


@pytest.mark.parametrize("rank,world", [(0, 1), (1, 2)])
def test_flip_fast_path_gives_the_same_batches_as_flipping_each_batch(rank, world):
    """With flips alone the loader keeps a mirrored copy and selects from it; the batches must be exactly
    those of flipping each batch (same random draws, same images), shards included."""
    torch.manual_seed(0)
    x = (torch.rand(300, 1, 6, 6) * 255).to(torch.uint8)
    y = torch.arange(300)
    fast = TensorLoader(x, y, 64, shuffle=True, seed=3, augment=Augment(0, True), rank=rank, world=world)
    slow = TensorLoader(x, y, 64, shuffle=True, seed=3, augment=Augment(0, True), rank=rank, world=world)
    slow.mirrored = None
    assert fast.mirrored is not None
    for epoch in range(2):
        fast.set_epoch(epoch)
        slow.set_epoch(epoch)
        pairs = list(zip(fast, slow, strict=True))
        assert pairs and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in pairs)


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_last_batches_make_an_nchw_model_run_channels_last(channels):
    """A one-channel batch is stored the same in both formats, so it is restrided (no copy): torch reads the
    format from the strides, and an unchanged NCHW model's convolutions then run channels-last."""
    x = torch.randn(4, channels, 6, 6)
    cl = as_channels_last(x)
    assert torch.equal(cl, x) and cl.is_contiguous(memory_format=torch.channels_last)
    assert cl.stride()[1] == 1
    if channels == 1:
        assert cl.data_ptr() == x.data_ptr() and cl.is_contiguous()  # still views and flattens like x
    conv = torch.nn.Conv2d(channels, 5, 3)
    out = conv(cl)
    assert out.stride()[1] == 1, "the convolution did not run channels-last"
    assert torch.allclose(out, conv(x), atol=1e-6)


@pytest.mark.parametrize("world", [1, 2])
def test_shuffled_loader_skips_a_last_batch_of_one_example_per_rank(world):
    """Batch norm cannot train on one example: a training loader skips such a last batch, an evaluation
    loader keeps every example."""
    n = 2 * 8 + world  # two full batches of 8 and a last batch of one example per rank
    images, labels = torch.zeros(n, 1, 4, 4, dtype=torch.uint8), torch.arange(n) % 3
    for rank in range(world):
        train = TensorLoader(images, labels, 8, shuffle=True, rank=rank, world=world)
        assert len(train) == 2 and [len(y) for _, y in train] == [8 // world] * 2
    keep = TensorLoader(images, labels, 8, shuffle=False)
    assert len(keep) == 3 and sum(len(y) for _, y in keep) == n
    m = 2 * 8 + 2 * world  # a last batch of two examples per rank is kept
    longer = TensorLoader(torch.zeros(m, 1, 4, 4, dtype=torch.uint8), torch.arange(m) % 3, 8, shuffle=True,
                          world=world)
    assert len(longer) == 3


@pytest.mark.parametrize("augment", [Augment(2, True), Augment(0, True), Augment(3, False)])
def test_an_epochs_augmentation_is_drawn_up_front_and_moved_once(augment, device_moves):
    """On a GPU a host-to-device copy per batch makes the host wait for the device every step: the epoch's
    random draws move in one copy each, and they are the draws ``random_crop``/``hflip`` make batch by batch
    (same generator, same order), shards included."""
    torch.manual_seed(0)
    x = (torch.rand(1000, 1, 7, 7) * 255).to(torch.uint8)
    y = torch.arange(1000)
    for rank, world in ((0, 1), (1, 2)):
        loader = TensorLoader(x, y, 64, shuffle=True, seed=5, augment=augment, rank=rank, world=world)
        loader.set_epoch(3)
        device_moves.clear()
        batches = list(loader)
        assert len(batches) == 16 and len(device_moves) <= 3  # the order, the crop offsets, the flips
        gen = torch.Generator().manual_seed(5 * 1_000_003 + 3 + 7_777_777)
        order = loader.order()
        for i, (xb, yb) in enumerate(batches):
            total = min(64, 1000 - 64 * i)
            lo, hi = (0, total) if world == 1 else (total // 2 * rank, total // 2 * (rank + 1))
            idx = order[64 * i + lo:64 * i + hi]
            expected = x[idx]
            if augment.crop_pad:
                expected = random_crop(expected, augment.crop_pad, gen, (lo, total))
            if augment.hflip:
                expected = hflip(expected, gen, (lo, total))
            assert torch.equal(yb, y[idx]) and torch.equal(xb, loader.convert(expected))
