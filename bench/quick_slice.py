"""A slice of the quick study, to time one version of the code against another as whole processes.

    PYTHONPATH=. python bench/quick_slice.py            # this checkout
    PYTHONPATH=../old-checkout python bench/quick_slice.py   # another version of lat_utils

60 adversarial training steps (MNIST, background mask, the quick profile's settings) and the PGD-20
background-attack evaluation (PGD alone) of 500 test images, with whichever ``lat_utils`` is first on the path
(the attack's precision is "auto" where that version has the option). Time it with any tool that
runs two commands in turn (A B A B ...), e.g. hyperfine, and quote the median ratio.
"""
import dataclasses
import inspect
import os
import tempfile

os.environ["LAT_OUTPUT_ROOT"] = tempfile.mkdtemp()  # the slice's checkpoints, never the checkout's runs/

import torch  # noqa: E402

from lat_utils import config  # noqa: E402
from lat_utils.study import evaluation, training  # noqa: E402

profile = dataclasses.replace(config.PROFILES["quick"], name="slice", train_steps=60)
config.PROFILES["slice"] = profile
trained = training.train_model(training.TrainConfig("mnist", "background", profile="slice"), progress=False)
images, labels, _ = evaluation.first_test_images("mnist", 500)
images = images.to(memory_format=torch.channels_last)
if hasattr(evaluation, "attacked_scores"):  # versions with the localized AutoAttack: its PGD part alone
    pgd_only = dataclasses.replace(profile, apgd_steps=0, square_queries=0)
    print(evaluation.attacked_scores(trained.model, images, labels, "background", pgd_only, "auto")["pgd_loss"].mean())
else:
    extra = {"precision": "auto"} if "precision" in inspect.signature(evaluation.evaluate).parameters else {}
    print(evaluation.evaluate(trained.model, images, labels, "background", eps=0.3, steps=20, step_size=0.0375, **extra))
