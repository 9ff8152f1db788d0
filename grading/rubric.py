"""The rubric: which reference tests grade which problem of each assignment, and for how many points.

A problem scores its points when every one of its checks passes, else 0 (the handouts give points
per problem, not per check). Checks are pytest node ids relative to the repository root: a test
file, or ``file::test`` (every parametrisation), or ``file::test[id]``. ``hidden`` checks are left
out of the student release (``make release``) and run only in the course's grader. Only
medical_cnn's points come from a handout; the others are this repository's own (``points_source``).
Report-only parts are graded by staff from the report, never by a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    number: str
    title: str
    points: float
    files: tuple[str, ...]  # the student's files, relative to the assignment package
    checks: tuple[str, ...]
    hidden: tuple[str, ...] = ()  # a subset of checks

    def __post_init__(self) -> None:
        for test in self.hidden:
            if not any(test == c or test.startswith(c + "::") for c in self.checks):
                raise ValueError(f"problem {self.number}: hidden check {test} is not among its checks")


@dataclass(frozen=True)
class Assignment:
    name: str
    points_source: str
    problems: tuple[Problem, ...]
    report_only: tuple[str, ...] = field(default=())

    @property
    def files(self) -> tuple[str, ...]:
        """Every student file of the assignment, in rubric order, once."""
        return tuple(dict.fromkeys(f for p in self.problems for f in p.files))

    @property
    def points(self) -> float:
        return sum(p.points for p in self.problems)


def _in(test_file: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{test_file}::{name}" for name in names)


_MC_MLP = "tests/medical_cnn/test_mlp.py"
_MC_UTILS = "tests/medical_cnn/test_utils.py"
_MC_MODELS = "tests/medical_cnn/test_models.py"
_AE_HELPER = "tests/autoencoders/test_helper.py"
_AE_MODELS = "tests/autoencoders/test_models.py"
_AD_MODELS = "tests/auto_decoder/test_models.py"
_BP = "tests/backprop/test_functions.py"
_MRI = "tests/mri_cs/test_subsampling.py"
OWN = "this repository's own (the handout gives no points)"

RUBRIC: dict[str, Assignment] = {
    a.name: a
    for a in (
        Assignment(
            "medical_cnn",
            "the handout",
            (
                Problem(
                    "1",
                    "Linear layer and MLP",
                    10,
                    ("mlp.py",),
                    (_MC_MLP,),
                    hidden=_in(_MC_MLP, "test_glorot_weights_are_normal_not_uniform_with_the_same_variance"),
                ),
                Problem(
                    "2",
                    "2-D convolution code",
                    2,
                    ("utils.py",),
                    _in(
                        _MC_UTILS,
                        "test_matches_scipy_correlate2d_same",
                        "test_is_correlation_not_convolution",
                        "test_zero_padding_at_the_border",
                        "test_torch_tensors_come_back_as_tensors",
                        "test_wrong_dimensions_are_value_errors",
                    ),
                ),
                Problem(
                    "3",
                    "DepthwiseSeparableBlock",
                    5,
                    ("mobileNet.py",),
                    _in(
                        _MC_MODELS,
                        "test_depthwise_separable_block_structure_and_strides",
                        "test_depthwise_separable_block_applies_relu_after_each_batch_norm",
                    ),
                ),
                Problem(
                    "4",
                    "MobileNet",
                    10,
                    ("mobileNet.py",),
                    _in(
                        _MC_MODELS,
                        "test_mobilenet_parameter_count_matches_the_paper",
                        "test_mobilenet_layout_follows_table_1",
                        "test_mobilenet_output_shapes_at_224_and_28",
                    ),
                ),
                Problem(
                    "5",
                    "U-Net",
                    10,
                    ("unet.py",),
                    _in(
                        _MC_MODELS,
                        "test_unet_has_the_paper_widths_64_to_1024",
                        "test_unet_output_shape",
                        "test_unet_has_named_blocks_and_the_skip_variant_differs",
                        "test_decoder_block_shapes_and_errors",
                        "test_unet_rejects_sizes_not_divisible_by_16",
                    ),
                ),
                Problem(
                    "6",
                    "Dice losses",
                    5,
                    ("utils.py",),
                    _in(
                        _MC_UTILS,
                        "test_dice_loss_matches_a_hand_computation_over_the_whole_batch",
                        "test_dice_loss_extremes",
                        "test_dice_ce_is_half_dice_plus_half_bce",
                        "test_losses_reject_mismatched_shapes",
                    ),
                ),
            ),
            report_only=(
                "convolution speed table and learned-filter figure (conv)",
                "MedMNIST classification, MLP against MobileNet (classify)",
                (
                    "DRIVE segmentation studies: skip connections, learning rates, augmentation, "
                    "pretrained encoder (segment)"
                ),
            ),
        ),
        Assignment(
            "autoencoders",
            OWN,
            (
                Problem(
                    "1",
                    "Soft Dice loss of equation 1",
                    5,
                    ("helper.py",),
                    _in(
                        _AE_HELPER,
                        "test_dice_loss_matches_the_formula_computed_by_hand",
                        "test_dice_loss_sums_over_the_whole_batch_and_has_the_right_gradient",
                    ),
                ),
                Problem(
                    "2",
                    "Accuracy over a loader",
                    2,
                    ("helper.py",),
                    _in(_AE_HELPER, "test_evaluate_accuracy_counts_every_batch"),
                ),
                Problem(
                    "3",
                    "CIFAR-10 CNN under 500k parameters",
                    5,
                    ("models.py",),
                    _in(
                        _AE_MODELS,
                        "test_cifar_cnn_has_batch_norm_dropout_relu_and_several_convolutions",
                        "test_every_model_is_under_500k_parameters_and_maps_the_right_shapes[CifarCNN]",
                        "test_wrong_input_shape_raises_value_error[CifarCNN-shape0]",
                    ),
                ),
                Problem(
                    "4",
                    "Linear autoencoder",
                    4,
                    ("models.py",),
                    _in(
                        _AE_MODELS,
                        "test_linear_autoencoder_has_exactly_the_prescribed_layers",
                        "test_every_model_is_under_500k_parameters_and_maps_the_right_shapes[LinearAutoEncoder]",
                        "test_wrong_input_shape_raises_value_error[LinearAutoEncoder-shape1]",
                    ),
                ),
                Problem(
                    "5",
                    "Convolutional autoencoder with unpooling",
                    4,
                    ("models.py",),
                    _in(
                        _AE_MODELS,
                        "test_conv_autoencoder_uses_unpooling_with_indices_under_35k_parameters",
                        "test_every_model_is_under_500k_parameters_and_maps_the_right_shapes[AutoEncoder_CNN]",
                        "test_wrong_input_shape_raises_value_error[AutoEncoder_CNN-shape2]",
                    ),
                ),
            ),
            report_only=(
                "CIFAR-10 accuracy and training curves (cifar)",
                "MNIST reconstruction and denoising comparison (mnist)",
                "STL-10 from scratch, ResNet-18 transfer and frozen-encoder classifier (stl10-*)",
                "brain-tumour segmentation scores and figures (segment)",
            ),
        ),
        Assignment(
            "auto_decoder",
            OWN,
            (
                Problem(
                    "1",
                    "Decoder, latent table and row-wise Adam",
                    10,
                    ("AutoDecoder.py",),
                    _in(
                        _AD_MODELS,
                        "test_decoder_shapes_and_range",
                        "test_latent_table_updates_only_the_batch_rows",
                        "test_pca_start_is_the_probabilistic_pca_posterior",
                        "test_row_adam_with_every_row_in_every_step_is_adam",
                        "test_row_adam_moves_a_rarely_updated_row_by_lr_whatever_the_table_size",
                    ),
                    hidden=_in(_AD_MODELS, "test_row_adam_moves_a_rarely_updated_row_by_lr_whatever_the_table_size"),
                ),
                Problem(
                    "2",
                    "Variational latent families and table",
                    10,
                    ("VariationalAutoDecoder.py",),
                    ("tests/auto_decoder/test_variational.py",)
                    + _in(_AD_MODELS, "test_tables_start_at_the_posterior_in_their_family"),
                ),
            ),
            report_only=(
                "reconstructions, samples, t-SNE and interpolation of the trained models (ad, vad)",
                "comparison with the VAE and the sample-quality scores (vae, summary)",
            ),
        ),
        Assignment(
            "backprop",
            OWN,
            (
                Problem(
                    "1",
                    "LinearFunction forward and backward",
                    6,
                    ("functions.py",),
                    _in(
                        _BP,
                        "test_linear_matches_torch_forward_and_backward",
                        "test_linear_function_gradcheck",
                        "test_gradcheck_detects_a_wrong_backward",
                    ),
                ),
                Problem(
                    "2",
                    "ReLUFunction",
                    4,
                    ("functions.py",),
                    _in(
                        _BP,
                        "test_relu_function_gradcheck_and_zero_gradient_below_zero",
                        "test_relu_gradient_is_zero_at_exactly_zero_like_torch",
                    ),
                ),
                Problem(
                    "3",
                    "Network of the Functions and hand-derived gradients",
                    10,
                    ("functions.py",),
                    _in(
                        _BP,
                        "test_network_gradcheck_in_input_and_all_parameters",
                        "test_hand_derived_first_layer_grads_match_autograd",
                        "test_network_is_built_from_the_hand_written_modules",
                        "test_bad_shapes_raise_value_error",
                    ),
                    hidden=_in(_BP, "test_hand_derived_first_layer_grads_match_autograd"),
                ),
            ),
            report_only=(
                "gradcheck table (gradcheck)",
                "MNIST inpainting (inpaint)",
                "denoiser ablation (ablation)",
                "Wiener deconvolution against the CNNs (wiener)",
            ),
        ),
        Assignment(
            "mri_cs",
            OWN,
            (
                Problem(
                    "1",
                    "Reconstruction model",
                    10,
                    ("models/model.py",),
                    _in(
                        _MRI,
                        "test_data_consistency_returns_the_measurement_when_nothing_is_dropped",
                        "test_output_ignores_the_unmeasured_samples",
                        "test_mask_changes_after_mask_grad_only_when_learning",
                    ),
                ),
            ),
            report_only=(
                "the 14-case sweep of drop rates, fixed against learned masks (sweep)",
                "mask and reconstruction figures, PSNR/SSIM table (report)",
            ),
        ),
    )
}
