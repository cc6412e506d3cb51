"""Density networks: shapes for any input size, non-negative output, spec round trip, weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from napari_gst.errors import GSTError
from napari_gst.models import MODELS, build_model, describe_model, load_vgg_weights


@pytest.fixture(scope="module")
def vgg() -> torch.nn.Module:
    """One VGG density network (building it costs a second; share it)."""
    torch.manual_seed(0)
    return build_model("vgg", in_channels=3)


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
@pytest.mark.parametrize("size", [(37, 53), (8, 8), (1, 3)])
def test_unet_output_covers_any_input_at_its_stride(stride, size):
    model = build_model("unet", in_channels=2, out_channels=3, stride=stride, width=4, depth=3)

    density = model(torch.randn(2, 2, *size))

    expected = (2, 3, math.ceil(size[0] / stride), math.ceil(size[1] / stride))
    assert model.stride == stride and tuple(density.shape) == expected
    assert torch.all(density >= 0)


@pytest.mark.parametrize(("stride", "input_stride"), [(2, 2), (4, 2), (4, 4), (8, 2)])
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (3, 5)])
def test_unet_with_input_stride_covers_any_input_at_its_stride(stride, input_stride, size):
    model = build_model(
        "unet", in_channels=3, stride=stride, width=4, depth=3, input_stride=input_stride
    )

    density = model(torch.rand(2, 3, *size))

    assert tuple(density.shape) == (2, 1, math.ceil(size[0] / stride), math.ceil(size[1] / stride))
    assert describe_model(model)["options"]["input_stride"] == input_stride


def test_input_stride_keeps_geometry():
    # Pixel blocks are cut from the top-left: growing the image at the far edges moves nothing.
    torch.manual_seed(0)
    model = build_model(
        "unet", in_channels=1, stride=4, width=4, depth=2, norm="none", input_stride=2
    ).eval()
    image = torch.zeros(1, 1, 64, 64)
    image[..., 10:14, 21:25] = 1.0

    with torch.no_grad():
        whole, cropped = model(image), model(image[..., :59, :61])

    torch.testing.assert_close(cropped[..., :10, :10], whole[..., :10, :10])


def test_input_stride_is_checked():
    with pytest.raises(GSTError, match="input_stride must be one of"):
        build_model("unet", 1, input_stride=3)
    with pytest.raises(GSTError, match="must not exceed the output stride"):
        build_model("unet", 1, stride=2, input_stride=4)


def test_vgg_is_stride_8_for_odd_sizes(vgg):
    with torch.no_grad():
        density = vgg(torch.randn(1, 3, 37, 70))

    assert vgg.stride == 8 and tuple(density.shape) == (1, 1, 5, 9)
    assert torch.all(density >= 0)


def test_padding_keeps_geometry():
    # Content in the top-left corner must not move when the image grows at the far edges.
    torch.manual_seed(0)
    model = build_model("unet", in_channels=1, stride=4, width=4, depth=2, norm="none").eval()
    image = torch.zeros(1, 1, 64, 64)
    image[..., 10:14, 10:14] = 1.0

    with torch.no_grad():
        whole, cropped = model(image), model(image[..., :61, :61])

    torch.testing.assert_close(cropped[..., :12, :12], whole[..., :12, :12])


@pytest.mark.parametrize("activation", ["softplus", "relu"])
def test_initial_counts_are_moderate(activation):
    model = build_model("unet", in_channels=1, activation=activation)

    with torch.no_grad():
        count = model(torch.rand(1, 1, 256, 256)).sum().item()

    # 4096 cells at stride 4: counts of a few tens, not thousands, before training.
    assert 1 < count < 400


def test_spec_is_json_and_rebuilds_the_same_network():
    model = build_model("unet", 3, 2, stride=2, width=8)

    spec = json.loads(json.dumps(describe_model(model)))
    rebuilt = build_model(**spec)

    assert spec["options"]["depth"] == 4  # defaults are written out
    assert describe_model(rebuilt) == spec
    rebuilt.load_state_dict(model.state_dict())  # identical parameter names and shapes
    torch.testing.assert_close(rebuilt(torch.ones(1, 3, 16, 16)), model(torch.ones(1, 3, 16, 16)))


def test_spec_options_and_keywords_both_work():
    by_options = build_model("unet", 1, options={"stride": 8}, width=4)

    assert by_options.stride == 8 and describe_model(by_options)["options"]["width"] == 4
    assert build_model("unet", 1, stride=None).stride == 4  # None: the default


def test_registry_lists_both_models():
    assert set(MODELS) == {"unet", "vgg"}


def test_bad_arguments_are_named():
    with pytest.raises(GSTError, match="model name must be one of"):
        build_model("resnet", 3)
    with pytest.raises(GSTError, match="stride for 'unet' must be one of"):
        build_model("unet", 3, stride=3)
    with pytest.raises(GSTError, match="stride for 'vgg' must be 8"):
        build_model("vgg", 3, stride=4)
    with pytest.raises(GSTError, match="unknown option"):
        build_model("unet", 3, widht=8)
    with pytest.raises(GSTError, match="in_channels must be a positive integer"):
        build_model("unet", 0)
    with pytest.raises(GSTError, match="depth must be at least log2"):
        build_model("unet", 1, stride=8, depth=2)
    with pytest.raises(GSTError, match="does not load weights"):
        build_model("unet", 1, weights="w.pt")


def test_wrong_input_channels_are_explained():
    model = build_model("unet", 3, width=4)

    with pytest.raises(GSTError, match="image has 1 channels but the network expects 3"):
        model(torch.zeros(1, 1, 8, 8))


def _torchvision_style_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Backbone weights under torchvision vgg19 key names, plus a classifier to ignore."""
    state = {
        k: torch.randn_like(v) for k, v in model.state_dict().items() if k.startswith("features.")
    }
    state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


@pytest.fixture(scope="module")
def torchvision_weights(vgg, tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-style VGG19 weights file (safetensors) and the tensors in it."""
    state = _torchvision_style_state(vgg)
    path = tmp_path_factory.mktemp("weights") / "vgg19.safetensors"
    save_file(state, str(path))
    return path, state


def test_local_torchvision_weights_load(torchvision_weights):
    path, state = torchvision_weights

    model = build_model("vgg", 3, weights=path)

    torch.testing.assert_close(model.features[34].weight, state["features.34.weight"])
    assert "weights" not in describe_model(model)["options"]


def test_weights_adapt_to_a_grey_image(torchvision_weights):
    path, state = torchvision_weights

    model = build_model("vgg", 1, weights=path)

    expected = state["features.0.weight"].sum(dim=1, keepdim=True)
    torch.testing.assert_close(model.features[0].weight, expected)


def test_wrapped_torch_checkpoint_with_bayesian_loss_head(tmp_path, vgg, torchvision_weights):
    state = dict(torchvision_weights[1])
    state["reg_layer.4.weight"] = torch.full((1, 128, 1, 1), 0.5)
    state["reg_layer.4.bias"] = torch.zeros(1)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "bl.pth")

    load_vgg_weights(vgg, tmp_path / "bl.pth")

    assert torch.all(vgg.density_layer[0].weight == 0.5)
    torch.testing.assert_close(vgg.features[0].weight, state["features.0.weight"])


def test_mismatched_weights_file_is_explained(tmp_path, vgg, torchvision_weights):
    state = dict(torchvision_weights[1])
    save_file({"fc.weight": torch.zeros(2, 2)}, str(tmp_path / "resnet.safetensors"))
    state["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    save_file(state, str(tmp_path / "narrow.safetensors"))
    del state["features.2.weight"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    (tmp_path / "junk.pth").write_bytes(b"junk")

    with pytest.raises(GSTError, match="resnet.safetensors does not match .*unexpected keys fc"):
        load_vgg_weights(vgg, tmp_path / "resnet.safetensors")
    with pytest.raises(GSTError, match=r"features.2.weight has shape \(64, 32, 3, 3\)"):
        load_vgg_weights(vgg, tmp_path / "narrow.safetensors")
    with pytest.raises(GSTError, match="missing 1 backbone tensors"):
        load_vgg_weights(vgg, tmp_path / "partial.safetensors")
    with pytest.raises(GSTError, match="cannot read weights file .*junk.pth"):
        load_vgg_weights(vgg, tmp_path / "junk.pth")
    with pytest.raises(GSTError, match="absent.pth does not exist"):
        build_model("vgg", 3, weights=tmp_path / "absent.pth")
