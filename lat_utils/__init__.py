"""lat_utils: masks, masked PGD, the paper's CNN, data, training, evaluation and plots for the
reproduction of "Localized Adversarial Training" (Rothberg et al., AdvML'19)."""

__version__ = "0.1.0"
