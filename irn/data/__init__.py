"""Training patches and validation images for IRN, from embedded photos or image folders.

`data` is "embedded" or a folder path.
  "embedded"  the colour photographs inside the scikit-image wheel (load offline).
              val = astronaut, chelsea; train = coffee, rocket, hubble_deep_field, retina,
              immunohistochemistry, stereo_motorcycle left + right views (7 images).
  PATH        flat folders of *.png / *.jpg / *.jpeg (not recursive, sorted by name):
                PATH/*.png               train = PATH; val = `val=`, else the DIV2K sibling
                                         (.../DIV2K_train_HR -> .../DIV2K_valid_HR) if it exists
                PATH/train + PATH/val    (also valid/, DIV2K_train_HR/, DIV2K_valid_HR/)
              An explicit `val=` folder always wins. Grey, palette and RGBA files become RGB
              (alpha dropped). Unreadable files are skipped with one DataWarning.

Validation: each image is centre-cropped to `val_max_size` (0 = whole), then, with
`val_tile` > 0, cut into non-overlapping val_tile x val_tile tiles (named IMAGE@row,col)
that are evaluated as separate images: many paired samples for the statistics of a sweep
at the cost of evaluating the same pixels (bench/STATISTICS.md).

Loaders: "memory" decodes every image once into uint8 H x W x 3 arrays (no file I/O while
training); "disk" decodes the file at every sample, as the official code does (embedded
photos are written once as PNG to $IRN_CACHE/embedded, default ~/.cache/irn-bench/embedded).
Both decode with Pillow and share one sampling rule, so they give identical batches.

Determinism: sample k of the infinite stream depends only on (seed, k), never on worker
state, so batches are identical for any `workers`. As in the official sampler, each epoch
visits every image once in a seeded random order; each visit takes one random patch with a
random flip / 90-degree rotation (8 variants).
"""
from irn.data.samples import TrainPatches, train_dataset, train_loader, val_images
from irn.data.sources import (EMBEDDED_TRAIN, EMBEDDED_VAL, DataError, DataWarning, cache_dir,
                              image_files, load_images, load_named_images, read_image,
                              shrink, to_rgb)

__all__ = ["DataError", "DataWarning", "EMBEDDED_TRAIN", "EMBEDDED_VAL", "TrainPatches",
           "cache_dir", "image_files", "load_images", "load_named_images", "read_image", "shrink", "to_rgb", "train_dataset",
           "train_loader", "val_images"]
