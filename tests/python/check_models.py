"""Checks python/sapipe_models.py against what sapipe computed in Rust (run by the Rust test
`train::python_tests`).

usage: check_models.py DIR [TOLERANCE]

DIR holds, for each model, `NAME.safetensors` (a checkpoint), `NAME-images.npy` (prepared
images `[n, S, S]`) and `NAME-pred.npy` (sapipe's predictions `[n, neurons]`); and for each
preprocessing case, `NAME-raw.npy` (raw images `[n, H, W]`), `NAME.json` (the preprocessing
object, or an object holding it under "preprocessing") and `NAME-prepared.npy` (sapipe's
prepared images). Every neuron of every model is compared with the whole-population module,
the last neuron also with its own module; then the loader's and preprocess's errors. Prints
one `ok ...` line per check passed and exits 1 on the first failure.
"""

import glob
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import sapipe_models  # noqa: E402


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


def within(label, got, expected, tolerance):
    if got.shape != expected.shape:
        fail(f"{label}: shape {list(got.shape)}, sapipe's {list(expected.shape)}")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
    if not diff <= tolerance:
        fail(f"{label}: max |python - sapipe| = {diff:.3e} > {tolerance:g}")
    return diff


def check_model(path, tolerance):
    stem = path[: -len(".safetensors")]
    images = np.load(f"{stem}-images.npy")
    expected = np.load(f"{stem}-pred.npy")
    model = sapipe_models.load(path)
    assert not model.training
    with torch.no_grad():
        population = model(torch.from_numpy(images)).numpy()
        last = model.neurons - 1
        alone = sapipe_models.load(path, neuron=last)(images[:, None]).numpy()
    diff = within(f"{model.model}, all {model.neurons} neurons", population, expected, tolerance)
    one = expected[:, last : last + 1]
    diff_one = within(f"{model.model}, neuron {last} alone", alone, one, tolerance)
    print(
        f"ok {model.model}: {model.neurons} neurons, {model.channels} channels, "
        f"{len(images)} images of {model.input_size} px: max diff {diff:.1e} "
        f"(neuron {last} alone {diff_one:.1e})"
    )
    return path


def check_preprocess(spec_path, tolerance):
    stem = spec_path[: -len(".json")]
    prepared = sapipe_models.preprocess(np.load(f"{stem}-raw.npy"), spec_path)
    expected = np.load(f"{stem}-prepared.npy")
    if prepared.dtype != np.float32:
        fail(f"{stem}: preprocess returned {prepared.dtype}, not float32")
    diff = within(f"preprocess {os.path.basename(stem)}", prepared, expected, tolerance)
    print(f"ok preprocess {os.path.basename(stem)}: {list(prepared.shape)}, max diff {diff:.1e}")


def expect_error(label, call, *fragments):
    try:
        call()
    except ValueError as e:
        missing = [f for f in fragments if f not in str(e)]
        if missing:
            fail(f"{label}: error {str(e)!r} does not mention {missing}")
        print(f"ok error {label}: {e}")
        return
    fail(f"{label}: no ValueError")


def check_errors(directory, checkpoint, spec_path):
    tensors = {"alpha1.conv.bias": torch.zeros(2, 3)}
    other = os.path.join(directory, "other.safetensors.bad")
    save_file(tensors, other, metadata={"format": "something-else/1"})
    expect_error("not sapipe", lambda: sapipe_models.load(other), other, "not a sapipe checkpoint")
    unknown = os.path.join(directory, "unknown.safetensors.bad")
    meta = {"format": sapipe_models.FORMAT, "model": "gru-net", "neurons": "2"}
    meta.update(input_size="26", channels="3")
    save_file(tensors, unknown, metadata=meta)
    expect_error("unknown model", lambda: sapipe_models.load(unknown), unknown, "'gru-net'")
    garbage = os.path.join(directory, "garbage.safetensors.bad")
    with open(garbage, "wb") as f:
        f.write(b"not a safetensors file at all")
    expect_error("garbage", lambda: sapipe_models.load(garbage), garbage, "not a sapipe checkpoint")
    n = sapipe_models.load(checkpoint).neurons
    expect_error(
        "neuron", lambda: sapipe_models.load(checkpoint, neuron=n), checkpoint, f"neuron {n} out of"
    )
    stem = spec_path[: -len(".json")]
    raw = np.load(f"{stem}-raw.npy")
    h, w = raw.shape[1:]
    expect_error(
        "raw size",
        lambda: sapipe_models.preprocess(raw[:, 1:, :], spec_path),
        f"{h} x {w}",
        f"{h - 1} x {w}",
    )


def main():
    directory = sys.argv[1]
    tolerance = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-5
    checkpoints = sorted(glob.glob(os.path.join(directory, "*.safetensors")))
    specs = sorted(glob.glob(os.path.join(directory, "*.json")))
    if not checkpoints or not specs:
        fail(f"{directory}: {len(checkpoints)} checkpoints, {len(specs)} preprocessing cases")
    for path in checkpoints:
        check_model(path, tolerance)
    for path in specs:
        check_preprocess(path, tolerance)
    check_errors(directory, checkpoints[0], specs[0])


if __name__ == "__main__":
    main()
