"""Settings shared by the engine tests: a counting run small enough to train in a second."""

# A 4-wide, 2-deep U-Net at stride 2 on 32 px crops, one per image and step pair.
TINY = {
    "model_options": {"width": 4, "depth": 2},
    "stride": 2,
    "batch_size": 2,
    "crop_size": 32,
    "crops_per_image": 1,
    "device": "cpu",
    "max_minutes": None,
}
# The same with the L2 loss, which needs no Gaussian fits.
TINY_L2 = {**TINY, "loss": "l2"}
