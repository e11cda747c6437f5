"""sapipe's fitted models in plain PyTorch: load a checkpoint, preprocess raw images as sapipe did.

A train stage writes its population as a safetensors checkpoint (`format` metadata
`sapipe-population/1`; tensors named after the layers that own them, neuron-major
`[neurons, ...]`). This module rebuilds each neuron's network from ordinary `torch.nn` modules
(the layer names match the tensor names, so `load_state_dict` does the mapping) and reproduces
sapipe's predictions to within 1e-5. Needs only torch, numpy and safetensors.

Use it by adding this folder to `sys.path`, or `pip install -e python/` from the project root::

    import sys; sys.path.insert(0, "python")   # not needed after pip install -e python/
    import json
    import numpy as np, torch
    import sapipe_models

    # `sapipe show PIPELINE STAGE --json > stage.json` describes a train stage: its
    # "files"."checkpoint" is the checkpoint (a file in the cache), its "preprocessing"
    # how raw images were cropped, resized and normalised.
    ckpt = json.load(open("stage.json"))[0]["files"]["checkpoint"]
    model = sapipe_models.load(ckpt)                  # the whole population, in eval mode
    print(model.model, model.neurons, model.input_size, model.channels)
    raw = np.load("my_images.npy")                    # [n, H, W], H x W as in the raw dataset
    x = sapipe_models.preprocess(raw, "stage.json")   # [n, S, S] float32, S = model.input_size
    with torch.no_grad():
        responses = model(torch.from_numpy(x))        # [n, neurons]
    one = sapipe_models.load(ckpt, neuron=3)
    with torch.no_grad():
        r3 = one(torch.from_numpy(x))                 # [n, 1]: neuron 3 only

`load(path)` returns a module whose `forward(images)` takes `[n, S, S]` or `[n, 1, S, S]`
float32 images (a torch tensor or a numpy array) and returns `[n, neurons]`; `load(path,
neuron=i)` keeps only neuron i and returns `[n, 1]` (the same column as the population's
`[:, i:i+1]`). Both expose `.model`, `.neurons` (the checkpoint's population size), `.neuron`
(None or i), `.input_size`, `.channels` and `.metadata` (the safetensors header metadata).
Move them with `.to(device)` like any module.
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

__all__ = ["FORMAT", "ARCHITECTURES", "Net", "SapipeModel", "load", "preprocess"]

# The `format` metadata of a sapipe population checkpoint.
FORMAT = "sapipe-population/1"

# model id -> (default channels, beta kernel, attention: None | "v-on" | "v-off", readout)
ARCHITECTURES = {
    "ff-cnn": (32, 3, None, "fcl"),
    "ff-sa-cnn": (30, 3, "v-on", "fcl"),
    "rf-cnn": (32, 1, None, "ctl"),
    "rf-sa-cnn": (30, 1, "v-off", "ctl"),
    "rf-sa-cnn-star": (30, 1, "v-on", "ctl"),
    "ff-sa-cnn-star": (30, 1, "v-on", "fcl"),
    "ff-sa-cnn-star-fc1": (30, 1, "v-on", "split"),
}


class ConvBlock(nn.Module):
    """Convolution, optional 2x2 max pooling, batch norm, sigmoid."""

    def __init__(self, c_in, c_out, k, pool):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = pool

    def forward(self, x):
        x = self.conv(x)
        if self.pool:
            x = F.max_pool2d(x, 2)
        return torch.sigmoid(self.bn(x))


class Attention(nn.Module):
    """Self-attention over positions with 5 query/key channels, with or without V mapping."""

    def __init__(self, c, value_mapping):
        super().__init__()
        self.q = nn.Conv2d(c, 5, 1)
        self.k = nn.Conv2d(c, 5, 1)
        self.value_mapping = value_mapping
        if value_mapping:
            self.v = nn.Conv2d(c, 5, 1)
            self.o = nn.Conv2d(5, c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        n = h * w
        q = self.q(x).view(b, 5, n)
        k = self.k(x).view(b, 5, n)
        attention = torch.softmax(torch.bmm(q.permute(0, 2, 1), k), dim=-1)
        if self.value_mapping:
            v = self.v(x).view(b, 5, n)
            out = self.o(torch.bmm(v, attention.permute(0, 2, 1)).view(b, 5, h, w))
        else:
            out = torch.bmm(x.view(b, c, n), attention.permute(0, 2, 1)).view(b, c, h, w)
        return self.gamma * out + x


class SaBlock(nn.Module):
    """Attention, batch norm, sigmoid."""

    def __init__(self, c, value_mapping):
        super().__init__()
        self.attn = Attention(c, value_mapping)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.sigmoid(self.bn(self.attn(x)))


class SplitReadout(nn.Module):
    """FC1's readout: a centre term, a surround term over the other positions, and a combiner."""

    def __init__(self, c, positions, centre):
        super().__init__()
        self.centre = nn.Linear(c, 1)
        self.surround = nn.Linear(c * (positions - 1), 1)
        self.combine = nn.Linear(2, 1)
        self.centre_index = centre

    def forward(self, x):
        b, c = x.shape[:2]
        flat = x.reshape(b, c, -1)
        i = self.centre_index
        centre = self.centre(flat[:, :, i])
        others = torch.cat([flat[:, :, :i], flat[:, :, i + 1 :]], dim=2).reshape(b, -1)
        return self.combine(torch.cat([centre, self.surround(others)], dim=1))


def readout_grid(model, size):
    """Side of the feature map the readout sees, for `size`-pixel inputs."""
    k = ARCHITECTURES[model][1]
    return ((size - 4) // 2 - 4) // 2 - 2 * (k - 1)


class Net(nn.Module):
    """One neuron's network: `[n, 1, S, S]` images to `[n, 1]` responses."""

    def __init__(self, model, size, channels):
        super().__init__()
        _, k, attention, readout = ARCHITECTURES[model]
        c = channels
        self.alpha1 = ConvBlock(1, c, 5, True)
        self.alpha2 = ConvBlock(c, c, 5, True)
        self.sa = SaBlock(c, attention == "v-on") if attention else None
        self.beta1 = ConvBlock(c, c, k, False)
        self.beta2 = ConvBlock(c, c, k, False)
        grid = readout_grid(model, size)
        self.grid = grid
        self.kind = readout
        if readout == "fcl":
            self.readout = nn.Linear(c * grid * grid, 1)
        elif readout == "ctl":
            self.readout = nn.Linear(c, 1)
        else:
            self.readout = SplitReadout(c, grid * grid, (grid // 2) * grid + grid // 2)

    def head(self, x):
        """The readout applied to the beta blocks' output."""
        if self.kind == "fcl":
            return self.readout(x.flatten(1))
        if self.kind == "ctl":
            g = self.grid
            return self.readout(x[:, :, g // 2, g // 2])
        return self.readout(x)

    def forward(self, x):
        x = self.alpha2(self.alpha1(x))
        if self.sa is not None:
            x = self.sa(x)
        return self.head(self.beta2(self.beta1(x)))


class SapipeModel(nn.Module):
    """Networks of some neurons of a checkpoint: `[n, S, S]` or `[n, 1, S, S]` images to
    `[n, len(self.nets)]` responses, in the checkpoint's neuron order."""

    def __init__(self, nets, metadata, neuron):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.metadata = dict(metadata)
        self.model = metadata["model"]
        self.neurons = int(metadata["neurons"])
        self.input_size = int(metadata["input_size"])
        self.channels = int(metadata["channels"])
        self.neuron = neuron

    def forward(self, images):
        first = next(self.parameters())
        x = torch.as_tensor(images, dtype=first.dtype, device=first.device)
        s = self.input_size
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, s, s):
            raise ValueError(
                f"images of shape {list(x.shape)}: this {self.model} model takes "
                f"[n, {s}, {s}] or [n, 1, {s}, {s}] (see preprocess)"
            )
        return torch.cat([net(x) for net in self.nets], dim=1)


def load(checkpoint_path, neuron=None):
    """The model in a sapipe checkpoint, in eval mode: every neuron (`neuron=None`, output
    `[n, neurons]`) or neuron `neuron` alone (output `[n, 1]`)."""
    path = os.fspath(checkpoint_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(path)
    except SafetensorError as e:
        raise ValueError(f"{path}: not a sapipe checkpoint: not a safetensors file ({e})") from e
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not a sapipe checkpoint: format is {metadata.get('format')!r}, "
            f"expected {FORMAT!r}"
        )
    missing = [k for k in ("model", "neurons", "input_size", "channels") if k not in metadata]
    if missing:
        raise ValueError(f"{path}: not a sapipe checkpoint: metadata lacks {', '.join(missing)}")
    model = metadata["model"]
    if model not in ARCHITECTURES:
        raise ValueError(
            f"{path}: unknown model {model!r} (this sapipe_models knows {', '.join(ARCHITECTURES)})"
        )
    try:
        neurons, size, channels = (int(metadata[k]) for k in ("neurons", "input_size", "channels"))
    except ValueError as e:
        raise ValueError(f"{path}: not a sapipe checkpoint: {e}") from e
    if readout_grid(model, size) < (2 if ARCHITECTURES[model][3] == "split" else 1):
        raise ValueError(f"{path}: input_size {size} is too small for model {model}")
    if neuron is None:
        ids = list(range(neurons))
    elif isinstance(neuron, int) and 0 <= neuron < neurons:
        ids = [neuron]
    else:
        raise ValueError(
            f"{path}: neuron {neuron!r} out of range: the checkpoint has {neurons} neurons "
            f"(0..{neurons - 1})"
        )
    bad = [name for name, t in tensors.items() if t.dim() == 0 or t.shape[0] != neurons]
    if bad:
        raise ValueError(f"{path}: tensors {bad} are not neuron-major over {neurons} neurons")
    nets = []
    for i in ids:
        net = Net(model, size, channels)
        result = net.load_state_dict({name: t[i] for name, t in tensors.items()}, strict=False)
        absent = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if absent or result.unexpected_keys:
            raise ValueError(
                f"{path}: tensors do not match model {model}: "
                f"missing {absent}, unexpected {result.unexpected_keys}"
            )
        nets.append(net)
    return SapipeModel(nets, metadata, neuron).eval()


PREPROCESSING_KEYS = ("raw_height", "raw_width", "crop", "size", "norm_mean", "norm_std")


def _preprocessing(spec):
    """The preprocessing dict from a dict, a `sapipe show --json` entry (or its one-entry list)
    or a JSON file holding any of them."""
    where = "preprocessing"
    if isinstance(spec, (str, os.PathLike)):
        where = os.fspath(spec)
        with open(where) as f:
            spec = json.load(f)
    if isinstance(spec, list) and len(spec) == 1:
        spec = spec[0]  # `sapipe show PIPELINE STAGE --json` lists the one stage
    if isinstance(spec, dict) and "preprocessing" in spec:
        spec = spec["preprocessing"]
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a preprocessing object, got {type(spec).__name__}")
    missing = [k for k in PREPROCESSING_KEYS if k not in spec]
    if missing:
        raise ValueError(f"{where}: preprocessing lacks {', '.join(missing)}")
    return spec


def _axis_weights(size_in, size_out):
    """sapipe's 1-D resampling taps (resample.rs): for each output sample, (input index,
    float32 weight) pairs; area average when shrinking, bilinear (centres aligned) otherwise."""
    f = size_in / size_out
    taps = []
    for j in range(size_out):
        if size_out <= size_in:
            a, b = j * f, (j + 1) * f
            row = []
            for k in range(int(np.floor(a)), min(int(np.ceil(b)), size_in)):
                overlap = max(min(b, k + 1.0) - max(a, float(k)), 0.0)
                if overlap > 0.0:
                    row.append((k, np.float32(overlap / f)))
        else:
            x = min(max((j + 0.5) * f - 0.5, 0.0), float(size_in - 1))
            k = int(np.floor(x))
            t = x - k
            if k + 1 < size_in and t > 0.0:
                row = [(k, np.float32(1.0 - t)), (k + 1, np.float32(t))]
            else:
                row = [(k, np.float32(1.0))]
        taps.append(row)
    return taps


def _apply_taps(images, taps, axis):
    """Resamples float32 `images` along `axis` with `taps`, summing in sapipe's order."""
    src = np.moveaxis(images, axis, -1)
    out = np.empty(src.shape[:-1] + (len(taps),), dtype=np.float32)
    for j, row in enumerate(taps):
        acc = src[..., row[0][0]] * row[0][1]
        for k, w in row[1:]:
            acc = acc + src[..., k] * w
        out[..., j] = acc
    return np.moveaxis(out, -1, axis)


def preprocess(images, preprocessing):
    """Raw images `[n, H, W]` (or one `[H, W]`) prepared exactly as sapipe prepared the training
    images: centred square crop of side `crop` (0 = the largest), resampling to `size` x `size`
    (area average when shrinking, bilinear when enlarging), then `(x - norm_mean) / norm_std`
    in float64, cast to float32. `preprocessing` is that dict (the `"preprocessing"` field of
    `sapipe show PIPELINE STAGE --json`), a dict holding it under `"preprocessing"` (a show
    entry), the one-entry list `show STAGE --json` prints, or the path of a JSON file holding
    any of them. Returns `[n, size, size]` float32."""
    p = _preprocessing(preprocessing)
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    h, w = int(p["raw_height"]), int(p["raw_width"])
    if x.ndim != 3 or x.shape[1:] != (h, w):
        raise ValueError(
            f"images of shape {list(x.shape)}: sapipe prepared {h} x {w} raw images "
            f"([n, {h}, {w}] or [{h}, {w}]), these are {' x '.join(map(str, x.shape[-2:]))}"
        )
    crop, size = int(p["crop"]), int(p["size"])
    crop = crop or min(h, w)
    if not 0 < crop <= min(h, w) or size < 1:
        raise ValueError(f"preprocessing crop {crop} / size {size} do not fit {h} x {w} images")
    x = x.astype(np.float32, copy=False)
    y0, x0 = (h - crop) // 2, (w - crop) // 2
    x = x[:, y0 : y0 + crop, x0 : x0 + crop]
    taps = _axis_weights(crop, size)
    x = _apply_taps(_apply_taps(x, taps, 2), taps, 1)  # along x first, then y, as sapipe
    mean, std = float(p["norm_mean"]), float(p["norm_std"])
    return ((x.astype(np.float64) - mean) / std).astype(np.float32)
