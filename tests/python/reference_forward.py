"""Reference forward pass in plain PyTorch for one neuron of a sapipe checkpoint.

Loads the safetensors checkpoint with safetensors.torch, builds that neuron's network from
ordinary torch.nn modules (names matching the checkpoint's tensor names, so
`load_state_dict` does the mapping), runs it in eval mode on the images and compares with the
predictions sapipe wrote.

usage: reference_forward.py CHECKPOINT IMAGES.npy PREDICTIONS.npy NEURON [TOLERANCE]
Prints the largest absolute difference; exits 1 if it exceeds TOLERANCE (default 1e-5).
"""

import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

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
    def __init__(self, c, value_mapping):
        super().__init__()
        self.attn = Attention(c, value_mapping)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.sigmoid(self.bn(self.attn(x)))


class SplitReadout(nn.Module):
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
        others = torch.cat([flat[:, :, :i], flat[:, :, i + 1:]], dim=2).reshape(b, -1)
        return self.combine(torch.cat([centre, self.surround(others)], dim=1))


class Net(nn.Module):
    def __init__(self, model, size, channels):
        super().__init__()
        _, k, attention, readout = ARCHITECTURES[model]
        c = channels
        self.alpha1 = ConvBlock(1, c, 5, True)
        self.alpha2 = ConvBlock(c, c, 5, True)
        self.sa = SaBlock(c, attention == "v-on") if attention else None
        self.beta1 = ConvBlock(c, c, k, False)
        self.beta2 = ConvBlock(c, c, k, False)
        grid = ((size - 4) // 2 - 4) // 2 - 2 * (k - 1)
        self.grid = grid
        self.kind = readout
        if readout == "fcl":
            self.readout = nn.Linear(c * grid * grid, 1)
        elif readout == "ctl":
            self.readout = nn.Linear(c, 1)
        else:
            self.readout = SplitReadout(c, grid * grid, (grid // 2) * grid + grid // 2)

    def forward(self, x):
        x = self.alpha2(self.alpha1(x))
        if self.sa is not None:
            x = self.sa(x)
        x = self.beta2(self.beta1(x))
        if self.kind == "fcl":
            return self.readout(x.flatten(1))
        if self.kind == "ctl":
            g = self.grid
            return self.readout(x[:, :, g // 2, g // 2])
        return self.readout(x)


def main():
    ckpt_path, images_path, predictions_path, neuron = sys.argv[1:5]
    tolerance = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-5
    neuron = int(neuron)
    with safe_open(ckpt_path, framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(ckpt_path)
    net = Net(meta["model"], int(meta["input_size"]), int(meta["channels"]))
    state = {name: t[neuron] for name, t in tensors.items()}
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        print(f"state mismatch: missing {missing}, unexpected {result.unexpected_keys}")
        sys.exit(1)
    net.eval()
    images = torch.from_numpy(np.load(images_path)).unsqueeze(1)
    with torch.no_grad():
        reference = net(images)[:, 0].numpy()
    sapipe = np.load(predictions_path)[:, neuron]
    diff = float(np.max(np.abs(reference - sapipe)))
    print(f"model {meta['model']} neuron {neuron}: max |pytorch - sapipe| = {diff:.3e} over {len(sapipe)} images")
    sys.exit(0 if diff <= tolerance else 1)


if __name__ == "__main__":
    main()
