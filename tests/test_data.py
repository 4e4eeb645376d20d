"""irn.data: embedded split, folders, memory/disk loaders, patches, validation images."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from irn.data import (EMBEDDED_TRAIN, EMBEDDED_VAL, DataError, DataWarning, image_files,
                      load_images, train_dataset, train_loader, val_images)
from irn.imresize import imresize


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # One embedded PNG cache for the whole session, never the user's ~/.cache.
    monkeypatch.setenv("IRN_CACHE", str(tmp_path_factory.getbasetemp() / "irn-cache"))


@pytest.fixture(scope="module")
def embedded_train():
    return load_images("embedded", "train")


def _photo(h, w, seed=0):
    """A random uint8 RGB image: no symmetry, so every flip/rotation is distinguishable."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write(folder, name, img, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(folder / name, **kw)


def batches(loader, n):
    it = iter(loader)
    return [next(it) for _ in range(n)]


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(ha, hb) and torch.equal(la, lb)
                                    for (ha, la), (hb, lb) in zip(a, b))


def test_embedded_split_is_deterministic_disjoint_rgb(embedded_train):
    assert not set(EMBEDDED_TRAIN) & set(EMBEDDED_VAL)
    val = load_images("embedded", "val")
    assert len(embedded_train) == 7 and len(val) == 2
    for img in embedded_train + val:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    again = load_images("embedded", "train")
    assert all(np.array_equal(a, b) for a, b in zip(embedded_train, again))
    assert not any(v.shape == t.shape and np.array_equal(v, t) for v in val for t in embedded_train)
    assert val[0].shape == (512, 512, 3)  # astronaut first, then chelsea
    assert val[1].shape == (300, 451, 3)


def test_memory_and_disk_loaders_give_identical_batches(embedded_train):
    kw = dict(scale=2, patch_size=48, batch_size=4, seed=3)
    mem = batches(train_loader(loader="memory", **kw), 3)
    disk = batches(train_loader(loader="disk", **kw), 3)
    shared = batches(train_loader(loader="memory", images=embedded_train, **kw), 3)
    assert _same(mem, disk) and _same(mem, shared)
    other_seed = batches(train_loader(loader="memory", **{**kw, "seed": 4}), 1)
    assert not torch.equal(other_seed[0][0], mem[0][0])
    paths, sizes = image_files("embedded", "train")
    assert [p.name for p in paths] == [f"{n}.png" for n in EMBEDDED_TRAIN]
    assert sizes == [im.shape[:2] for im in embedded_train]
    assert not list(paths[0].parent.glob("*.tmp"))


@pytest.mark.parametrize("scale", [2, 4])
def test_shapes_and_ranges(embedded_train, scale):
    loader = train_loader(scale=scale, patch_size=64, batch_size=3, images=embedded_train)
    hr, lr = next(iter(loader))
    assert hr.shape == (3, 3, 64, 64) and lr.shape == (3, 3, 64 // scale, 64 // scale)
    assert hr.dtype == lr.dtype == torch.float32
    for t in (hr, lr):
        assert 0 <= t.min() and t.max() <= 1
    assert hr.std() > 0.01  # real content, not a blank patch


def test_augmentations_occur_and_lr_is_matlab_bicubic():
    img = _photo(32, 32)  # patch == image: the only randomness is the flip/rotation
    ds = train_dataset(images=[img], scale=2, patch_size=32)
    ref = torch.from_numpy(img).permute(2, 0, 1)
    variants = [torch.rot90(v, r, (1, 2)) for v in (ref, ref.flip(2)) for r in range(4)]
    seen = set()
    for k in range(64):
        patch = ds.hr_patch(k)
        seen.add(next(i for i, v in enumerate(variants) if torch.equal(v, patch)))
    assert seen == set(range(8))
    hr, lr = ds[5]
    assert torch.equal(hr, ds.hr_patch(5).float() / 255)
    torch.testing.assert_close(lr, imresize(hr[None], 0.5)[0].clamp(0, 1), rtol=0, atol=1e-6)
    hb, lb = ds.__getitems__([4, 5])  # the batched path gives the same sample
    torch.testing.assert_close(lb[1], lr, rtol=0, atol=1e-6)


def test_crops_cover_the_image_and_small_images_are_padded():
    ds = train_dataset(images=[_photo(20, 30), _photo(200, 200, 1)], scale=4, patch_size=48)
    plans = [ds.locate(k) for k in range(40)]
    assert {i for i, *_ in plans} == {0, 1}
    assert len({(t, l) for i, t, l, _ in plans if i == 1}) > 15
    for k in range(6):
        hr, lr = ds[k]
        assert hr.shape == (3, 48, 48) and lr.shape == (3, 12, 12)


def test_folder_with_corrupt_file_warns_once_and_loaders_agree(tmp_path):
    _write(tmp_path, "a.png", _photo(40, 50))
    _write(tmp_path, "b.jpg", _photo(60, 40, 1), quality=90)
    _write(tmp_path, "c.png", _photo(30, 30, 2)[:, :, 0])  # grey
    _write(tmp_path, "d.png", np.dstack([_photo(30, 30, 3), np.full((30, 30, 1), 7, np.uint8)]))
    (tmp_path / "x.png").write_bytes(b"this is not a png" * 10)
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.warns(DataWarning) as rec:
        images = load_images(tmp_path)
    assert len(rec) == 1 and "skipped 1 " in str(rec[0].message) and "x.png" in str(rec[0].message)
    assert [im.shape for im in images] == [(40, 50, 3), (60, 40, 3), (30, 30, 3), (30, 30, 3)]
    assert np.array_equal(images[2][:, :, 0], images[2][:, :, 2])  # grey -> equal channels
    with pytest.warns(DataWarning, match="skipped 1 "):
        disk = batches(train_loader(tmp_path, patch_size=32, batch_size=4, loader="disk"), 2)
    with pytest.warns(DataWarning):
        mem = batches(train_loader(tmp_path, patch_size=32, batch_size=4), 2)
    assert _same(mem, disk)


@pytest.mark.parametrize("loader", ["memory", "disk"])
def test_truncated_files_are_skipped_by_both_loaders(tmp_path, loader):
    _write(tmp_path, "a.png", _photo(40, 40))
    for name in ("t.jpg", "t.png"):  # the header survives, the pixel data is cut short
        _write(tmp_path, name, _photo(64, 64, 1))
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[:len(data) // 2])
    with pytest.warns(DataWarning, match="skipped 2 .*t.jpg, t.png"):
        ds = train_dataset(tmp_path, patch_size=32, loader=loader)
    assert len(ds) == 1
    ds.__getitems__(list(range(4)))


@pytest.mark.parametrize("loader", ["memory", "disk"])
def test_empty_and_missing_folders_raise(tmp_path, loader):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="nope"):
        train_loader(missing, loader=loader)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty") as err:
        train_loader(empty, loader=loader)
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # all unreadable: the error alone says so
        with pytest.raises(DataError, match=r"no readable images in .*\(1 unreadable: x.png\)"):
            train_loader(bad, loader=loader)


def test_bad_arguments_raise(tmp_path):
    img = [_photo(64, 64)]
    with pytest.raises(ValueError, match="multiple of scale"):
        train_loader(images=img, scale=4, patch_size=50)
    with pytest.raises(ValueError, match="loader"):
        train_loader(images=img, loader="gpu")
    with pytest.raises(ValueError, match="images="):
        train_loader(images=img, loader="disk")
    with pytest.raises(ValueError, match="split"):
        load_images("embedded", "test")


def test_folder_layouts(tmp_path):
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            _write(tmp_path / "root" / split, f"{i}.png", _photo(24, 24, i))
    assert len(load_images(tmp_path / "root", "train")) == 3
    assert len(load_images(tmp_path / "root", "val")) == 2
    # DIV2K layout: a flat folder; its DIV2K_valid_HR sibling is the validation set.
    div2k_train, div2k_val = tmp_path / "DIV2K_train_HR", tmp_path / "DIV2K_valid_HR"
    _write(div2k_train, "0001.png", _photo(24, 24))
    _write(div2k_val, "0801.png", _photo(16, 16))
    assert load_images(div2k_train, "val")[0].shape == (16, 16, 3)
    assert load_images(div2k_train, "val", val=tmp_path / "root" / "val")[0].shape == (24, 24, 3)
    assert len(load_images("embedded", "val", val=tmp_path / "root" / "val")) == 2
    with pytest.raises(DataError, match="nope"):
        val_images(val=tmp_path / "nope")
    flat = tmp_path / "flat"
    _write(flat, "a.png", _photo(24, 24))
    with pytest.raises(DataError, match="val=PATH"):
        load_images(flat, "val")


def test_val_images_mod_crop_and_center_crop():
    odd = _photo(35, 42)
    (hr, lr), = val_images(scale=4, images=[odd])
    assert hr.shape == (1, 3, 32, 40) and lr.shape == (1, 3, 8, 10)
    assert torch.equal(hr[0], torch.from_numpy(odd[:32, :40]).permute(2, 0, 1).float() / 255)
    torch.testing.assert_close(lr, imresize(hr, 0.25).clamp(0, 1), rtol=0, atol=1e-6)
    pairs = val_images("embedded", scale=2, max_size=96)
    assert [tuple(h.shape) for h, _ in pairs] == [(1, 3, 96, 96)] * 2
    assert [tuple(l.shape) for _, l in pairs] == [(1, 3, 48, 48)] * 2
    astronaut = load_images("embedded", "val")[0]
    center = torch.from_numpy(astronaut[208:304, 208:304]).permute(2, 0, 1) / 255
    assert torch.equal(pairs[0][0][0], center)


def test_workers_are_deterministic_and_resume_works():
    images = [_photo(80, 80, i) for i in range(3)]
    kw = dict(images=images, scale=2, patch_size=32, batch_size=4, seed=1)
    single = batches(train_loader(**kw), 3)
    assert _same(single, batches(train_loader(workers=2, **kw), 3))
    assert _same(single[2:], batches(train_loader(start_batch=2, **kw), 1))


def test_read_only_shared_images_need_no_copy_and_no_warning():
    img = _photo(64, 64)
    img.flags.writeable = False  # as a Ray object-store array is
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = train_dataset(images=[img], patch_size=32)
        ds[0]
        val_images(images=[img])
    assert ds.source[0] is img or np.shares_memory(ds.source[0], img)


@pytest.mark.parametrize("mode", ["I;16", "I", "LA", "P", "CMYK", "F"])
def test_every_pillow_mode_decodes_to_8_bit_rgb_or_is_refused(tmp_path, mode):
    from PIL import Image

    from irn.data import read_image
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))  # 8 x 64 ramp
    if mode in ("I;16", "I"):
        im = Image.fromarray(grey.astype(np.uint16) * 257).convert(mode)
    elif mode == "F":
        im = Image.fromarray(grey.astype(np.float32))
    elif mode == "P":
        im = Image.fromarray(grey).convert("P")
        im.info["transparency"] = 0
    else:
        im = Image.fromarray(grey).convert(mode)
    path = tmp_path / ("x.tif" if mode in ("F", "CMYK", "I") else "x.png")
    im.save(path, **({"transparency": 0} if mode == "P" else {}))
    if mode == "F":
        with pytest.raises(DataError, match="mode F"):
            read_image(path)
        return
    rgb = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (8, 64, 3)
    if mode != "CMYK":  # CMYK -> RGB is Pillow's naive conversion, not the grey ramp
        assert np.abs(rgb[..., 0].astype(int) - grey).max() <= 1


def test_4k_and_2k_folders_serve_768_px_patches_with_one_decoded_copy(tmp_path):
    """High resolution (issue 34): a 3840 x 2160 and a 2048 x 1080 photo in a data=PATH
    folder. The disk loader reads sizes from the headers and decodes one file per sample;
    the memory loader holds each image once, as decoded."""
    from PIL import Image

    from irn.data import load_images
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    for name, (w, h) in (("uhd", (3840, 2160)), ("twok", (2048, 1080))):
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) % 256)], -1).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / "train" / f"{name}.png", compress_level=1)
    Image.fromarray(img[:256, :256]).save(tmp_path / "val" / "v.png")
    disk = train_dataset(str(tmp_path), scale=4, patch_size=768, loader="disk")
    assert not any(isinstance(p, np.ndarray) for p in disk.source)  # file paths: no pixels held
    assert sorted(disk.sizes) == [(1080, 2048), (2160, 3840)]
    hr, lr = disk[0]
    assert hr.shape == (3, 768, 768) and lr.shape == (3, 192, 192)
    images = load_images(str(tmp_path), "train")
    memory = train_dataset(images=images, scale=4, patch_size=768)
    assert sum(im.nbytes for im in images) == 3 * (3840 * 2160 + 2048 * 1080)
    assert all(np.shares_memory(a, b) for a, b in zip(memory.source, images))
    # the same sample from both loaders: one sampling rule
    assert torch.equal(memory[3][0], train_dataset(str(tmp_path), scale=4, patch_size=768,
                                                   loader="disk")[3][0])
