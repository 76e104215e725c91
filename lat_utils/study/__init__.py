"""The study: the paper's models trained, evaluated under every localized attack, and its claims judged.

By what each module holds:

- ``plan``: which models a profile trains (``TrainConfig``, ``study_models``), their names and groups;
- ``training``: one adversarial training step (Algorithm 1), and the loop that trains a model with it,
  resumable, never repeated;
- ``optimizers``: what a network's recipe does beyond the step: optimizer, schedule, weight averaging, augmentation;
- ``checkpoints``: checkpoints, milestones, training logs and the fingerprints that tie them to their settings;
- ``evaluation``: every model under every attack (the localized AutoAttack), cached per cell; PGD's
  overestimate;
- ``crosscheck``: the torchattacks cross-check of what our attacks left correct;
- ``curves``: the models at the milestones of their training, and the claims at each milestone;
- ``claims``: the paper's claims, each with its value, 95% interval and verdict;
- ``verdicts``: what a claim is, and the rules that judge it from our interval;
- ``budgets``: the claims across training budgets (profiles);
- ``deviations``: every claim under each configuration of training (the deviations study: our cuts undone);
- ``stats``: the intervals (Wilson, paired bootstrap, spread over seeds);
- ``sweep``: the natural models under localized attacks at many eps, and where they keep the paper's share.

The principal names are importable from ``lat_utils.study`` itself.
"""

from .budgets import claims_across_budgets, compared_with, trends
from .checkpoints import checkpoint_path, load_trained
from .claims import CLAIMS, claims_by_network, claims_table, collapsed_models, paper_figure2
from .crosscheck import LocalizingWrapper, third_party_check, third_party_checks
from .curves import evaluate_milestones, learning_curves, milestone_claims
from .deviations import claims_by_configuration, configurations, long_trends, robustness, with_budget_axis
from .evaluation import cross_evaluate, evaluate_model, first_test_images, pgd_overestimate, test_set_accuracy
from .optimizers import adam, optimizer_for
from .plan import TrainConfig, evaluated_models, group_name, readings_of, shown_model, study_models, together_groups
from .stats import bootstrap_mean_interval, combine_seeds, wilson_interval
from .sweep import crossings_by_profile, eps_sweep, kept_crossings, reading_consistency, sweep_cells, sweep_settings
from .training import TrainedModel, TrainingStep, train_model, train_together, trained_models, training_step
from .verdicts import VERDICTS, verdict

__all__ = [
    "CLAIMS", "LocalizingWrapper", "TrainConfig", "TrainedModel", "VERDICTS",
    "bootstrap_mean_interval", "checkpoint_path", "claims_across_budgets", "claims_by_configuration", "claims_by_network",
    "claims_table",
    "collapsed_models", "configurations", "robustness",
    "combine_seeds", "compared_with", "cross_evaluate", "crossings_by_profile", "eps_sweep", "evaluate_milestones", "evaluated_models", "evaluate_model", "shown_model",
    "group_name", "kept_crossings", "learning_curves", "load_trained", "milestone_claims", "paper_figure2",
    "pgd_overestimate", "reading_consistency", "readings_of", "long_trends", "with_budget_axis", "study_models", "sweep_cells", "sweep_settings", "first_test_images", "test_set_accuracy", "third_party_check", "third_party_checks", "together_groups",
    "adam", "optimizer_for", "train_model", "train_together", "trained_models", "training_step", "TrainingStep", "trends", "verdict", "wilson_interval",
]
