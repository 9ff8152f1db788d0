"""The subsampling layer and the reconstruction models built on it.

Every model takes ``(drop_rate, device, learn_mask, shape, mask_seed)``, has the layer as
``model.subsample`` and maps a full k-space ``(B, H, W, 2)`` to an image ``(B, 1, H, W)``.
"""
