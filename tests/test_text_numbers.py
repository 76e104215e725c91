"""Every number a reader takes from the text is computed or stated: each percentage, eps in /255, time in minutes,
seconds or hours, and count of verdicts in the scanned pages lies inside a quote that a test computes from a
committed table (``tests/test_committed_reports.py``'s ``*_quotes_*`` functions, the rule examples below), or is a
stated constant: the paper's numbers, the readings of its eps, the rules' constants, the time limits the project
holds itself to."""

import inspect
import math
import re

from lat_utils.config import PROFILES
from lat_utils.paths import PROJECT_ROOT
from lat_utils.runner.invocations import Invocations
from lat_utils.spec import paper, recipes
from lat_utils.study import collapse, evaluation, stats, sweep, training, verdicts
from lat_utils.study.claims import CLAIMS

from . import test_committed_reports as reports

# README.md and every docs page; docs/synthesis.md is generated from reports/synthesis.csv and tested against it.
# Fenced code blocks are left out: they show a command's output on the day it ran, said so above each.
PAGES = ("README.md", *sorted(f"docs/{p.name}" for p in (PROJECT_ROOT / "docs").glob("*.md") if p.name != "synthesis.md"))
FENCED = re.compile(r"```.*?```", re.DOTALL)

NUMBER = re.compile(r"(?<![\w.,/-])-?\d[\d,]*(?:\.\d+)?(?:%|/255| minutes?\b| min\b| seconds?\b| s\b| hours?\b| h\b)")
VERDICT_COUNT = re.compile(r"(?<![\w.,])\d+ \*(?:" + "|".join(verdicts.VERDICTS) + r")\*")

# The time limits the project holds itself to (docs/running.md): quick, long and the new profiles, the suite, the
# device check's one call (bench/gpu_device_check.sh; tests/test_bench.py holds its limits to it)
TIME_LIMITS = ("45 minutes", "150 minutes", "10 minutes", "5 minutes")


def _eps(value: float) -> str:
    return f"{value * 255:g}/255"


def stated_constants() -> set[str]:
    """What the text may state without a table: the paper's numbers (its claims, its absolute results), the
    readings of its eps and the eps the profiles attack at, the rules' constants, the time limits."""
    numbers = {value for name, value in vars(paper).items() if name.startswith("PAPER_") and isinstance(value, float)}
    numbers |= {claim.paper for claim in CLAIMS} | {recipes.AIRBENCH_PUBLISHED_ACCURACY}
    texts = {f"{v:g}%" for v in numbers} | {f"{v:.1f}%" for v in numbers}
    texts |= {_eps(paper.EPS), _eps(paper.IMAGENET_EPS)}
    texts |= set(re.findall(r"[\d.]+/255", " ".join(paper.READING_LABELS.values())))
    for profile in PROFILES.values():
        texts |= {_eps(eps) for eps in profile.imagenet_eps_sweep}
    for name in PROFILES:
        if "cifar10" in PROFILES[name].datasets:
            texts |= {_eps(eps) for eps in sweep.sweep_settings(name).eps_values}
    texts |= {f"{100 * verdicts.CONFIDENCE:g}%", f"{100 * (1 - verdicts.CONFIDENCE):g}%", f"{100 * verdicts.POWER:g}%",
              f"{100 * evaluation.ONE_CLASS_SHARE:g}%", f"{stats.LESS.high:g}%", f"{stats.MORE.low:g}%",
              f"{100 * collapse.ACCURACY_FLOOR:g}%"}
    texts |= {f"{inspect.signature(training.train_model).parameters['checkpoint_every'].default:g} s",
              f"{inspect.signature(Invocations).parameters['heartbeat'].default:g} s"}
    return texts | set(TIME_LIMITS)


def rule_quotes() -> list[str]:
    """docs/method.md's worked examples of the share of the paper's effect and of the equivalence margin, computed
    by the rule's own scale (``stats.LESS``)."""
    def share(ours: float, theirs: float) -> float:
        return stats.LESS.effect(ours) / stats.LESS.effect(theirs)

    def bound(theirs: float, s: float) -> float:   # the reduction whose share of ``theirs`` is s
        return 100 * (1 - (1 - theirs / 100) ** s)
    low, high = 1 - verdicts.EQUIVALENCE_MARGIN, 1 + verdicts.EQUIVALENCE_MARGIN
    return [
        f"98.4% less loss ({1 / (1 - 0.984):.0f} times smaller) is {share(98.4, 99):.2f} of the paper's 99% "
        f"({1 / (1 - 0.99):.0f} times smaller); 1.3% less is {share(1.3, 95.7):.1g} of the paper's 95.7%; 56.8% less is "
        f"{share(56.8, 99.7):.2f} of 99.7%",
        f"for 99% less loss, between {bound(99, low):.1f}% and {bound(99, high):.1f}%; for 4.35% less, between "
        f"{bound(4.35, low):.1f}% and {bound(4.35, high):.1f}%",
    ]


def computed_quotes() -> list[str]:
    """Every quote a test computes from the committed tables or the rules."""
    quotes = list(rule_quotes())
    for name in dir(reports):
        if name.startswith(("readme_quotes_", "results_quotes_", "running_quotes_")):
            quotes += getattr(reports, name)()
    return quotes


def unexplained_numbers(text: str, quotes: list[str], constants: set[str]) -> list[str]:
    """The numbers of ``text`` (flattened) that lie in no quote and are no stated constant, each with its context."""
    covered = [False] * len(text)
    for quote in {reports._flat(q) for q in quotes}:
        for match in re.finditer(re.escape(quote), text):
            covered[match.start():match.end()] = [True] * (match.end() - match.start())
    found = []
    for pattern in (NUMBER, VERDICT_COUNT):
        for match in pattern.finditer(text):
            if not covered[match.start()] and match.group() not in constants:
                found.append(f"{match.group()!r} in '...{text[max(0, match.start() - 50):match.end() + 20]}...'")
    return found


def test_stated_constants_are_the_codes():
    constants = stated_constants()
    assert {"99.19%", "0.08%", "95.17%", "62.3%", "59.26%", "0.3/255", "8/255", "76.5/255", "2/255", "95%", "5%",
            "80%", "90%", "100%", "-100%", "94%"} <= constants
    assert math.isclose(float(rule_quotes()[0].split(" is ")[1].split()[0]), 0.90)


def test_a_number_that_no_table_computes_is_found():
    text = reports._flat("The quick run took 12.9 minutes; 3 *supported*; at 0.3/255; 95.17% natural accuracy.")
    found = unexplained_numbers(text, [], stated_constants())
    assert [number.split(" in ")[0] for number in found] == ["'12.9 minutes'", "'3 *supported*'"]
    assert unexplained_numbers(text, ["took 12.9 minutes; 3 *supported*"], stated_constants()) == []


def test_every_number_of_the_scanned_pages_is_computed_or_stated():
    quotes, constants = computed_quotes(), stated_constants()
    unexplained = {page: unexplained_numbers(reports._flat(FENCED.sub("", (PROJECT_ROOT / page).read_text())),
                                             quotes, constants) for page in PAGES}
    unexplained = {page: found for page, found in unexplained.items() if found}
    assert not unexplained, "numbers that no quote test computes and no constant states:\n" + "\n".join(
        f"{page}: {number}" for page, found in unexplained.items() for number in found)
