"""auto_decoder package: auto-decoder and variational auto-decoders on Fashion-MNIST."""

# The ten Fashion-MNIST classes, in label order (here so that torch-free modules can use them too).
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
