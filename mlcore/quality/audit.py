"""The label audit's analysis: a model's predictions on a split against its labels, weighed by what the model's
confidence is worth on that split.

    result = audit(detections, lines)   # lines[k]: the label-file line of ground-truth box k
    result.image_scores                 # one per image, 0..1: the chance it holds no label error (lower: look first)
    result.suspects                     # typed suspect boxes, likeliest errors first
    result.strength                     # how well the model's confidence tells its right boxes from its wrong ones
    result.blind_spot                   # the label sizes too small for the model to see (None: it sees every size)

What a confidence is worth is measured, not assumed. Every prediction is matched to the labels as an evaluation
matches them (greedily by confidence, same class, IoU >= 0.5); a logistic fit of "matched" on the confidence's
logit, with each class's own offset and slope (Platt scaling; classes' confidences run on different scales), and
the share of the box outside the image (where no labelled object is cut by the image's edge, such boxes are the
model's false alarms; where labelled objects are, the fit learns that instead), and how few of its class's labels
are of its size (a confident box far larger or smaller than every labelled object of its class, like an ordinary
model's box around a crowd where logos are labelled, is seldom one; where a class comes in every size, the fit
learns that instead), gives the chance that a box this model predicts at that confidence is right: near 1 from
confidence 0.3 for a near-perfect model, perhaps 0.8 at 0.6 for an ordinary one. The same fit on "on some
object, whatever its class", learnt from the boxes on objects against the boxes no label covers (an ordinary
model's second boxes on objects it sees are no false alarms where nobody labelled anything), gives a free box's
objectness. Each candidate's evidence is built from those worths:

- overlooked: a place no label covers where the model sees an object: the objectness of all its boxes there,
  and their boxes averaged by it;
- swapped: another class's box on the label: how much likelier its class is than the label's, from the model's
  surest score of each class on the label, as the split's other labels (nearly all right) show those scores go
  with their classes (a multinomial fit, each label's chances from the folds without it): a pair of classes the
  model mixes up is learnt as such, so its box of one class on a label of the other counts for little, and a
  confident box of a class it never mistakes counts for much. Where a class was not learnt (no label of it), the
  box's worth times the chance that the label's own class is not there, both learnt from the model's boxes on
  labelled objects, its right ones against its confusions (boxes of another class than their label's): its false
  alarms on the background and its second boxes of the label's own class, both far more common than its
  confusions, say nothing of whether it names a labelled object right;
- badly located: a box of the label's class near it (its centre within one label size, its area within
  SIZE_RATIO times the label's; not a box on another label, nor one that matches the label at IoU >= 0.5 as mAP50
  does: an ordinary model's less sure boxes sit looser than its sure ones, and such a box found the label's object)
  whose centre lies farther from the label's than nine in ten of the model's matched boxes lie from theirs: its
  worth (learnt against the model's boxes that lie so beside a label of their class without matching it, not
  against its false alarms on the background) times how unusual the distance is times the chance that no other
  box fits the label, and as likely
  again as the model sees little where the label is (a misplaced label's own place is empty; an ordinary model's
  loose box beside an object it sees is not a misplaced label). Centres, not IoU: an ordinary model's boxes are
  often too small or too large around the right centre, which lowers the IoU of a right label as much as a shift
  does;
- nothing seen (typed badly located, no suggestion): a label where the model sees little, against how little it
  sees of the split's labels of its size on average (its miss rate measured the same way, over labels weighted by
  how close their log area is to this one's: a model misses small objects far more often than large ones, so
  nothing seen on a small one is weaker evidence that no object is there).

A box that both suggests where a misplaced label belongs and stands where no label is can be either; the label's
own place decides: the label keeps it as its suggested box when the model sees less there than at the split's
labels on average, otherwise it is an overlooked object and the label is weighed without it.

Evidence becomes the probability of a label error through a prior (PRIOR of boxes wrong; SPURIOUS_PRIOR for a
box on nothing): odds = prior odds x the evidence's likelihood ratio. A strong model's confident disagreement is
likely an error; an ordinary model's is as likely its own mistake, so its suspects rank lower and fewer are listed.
Suspects at least LISTED likely are listed, likeliest first; ties go to the surer model, then the image, the label
line and the box. An image scores the chance that none of its candidates is an error.

A model whose confidence separates its matched from its unmatched boxes less than MIN_SEPARATION of the time and
that finds fewer than MIN_RECALL of the labels at its own sure confidence is too weak to audit with: the result
says so with those figures, and lists only the suspects at least WEAK_LISTED likely. A model that finds the labels
with an mAP50 below ORDINARY_MAP50 is cautioned with that figure (its first suspects hold more of its own mistakes)
and keeps its whole list: the figure is lowered by label errors as much as by the model, so it cannot cut the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from mlcore.evaluation.analysis import Detections, average_precision
from mlcore.quality.blind_spot import BlindSpot, blind_spot

ISSUE_TYPES = ("overlooked", "swapped", "badly_located")
MIN_CONFIDENCE = 0.05  # predictions below it carry no evidence
MATCH_IOU = 0.5  # a prediction of the label's class this close is the same object, as in mAP50
COVERED_IOU = 0.3  # a prediction a label overlaps this much is that label's business (swap or location)
FIT_TAIL = 0.1  # a box farther from a label than this share of the matched boxes from theirs is unusual
NO_MATCHED_OFFSET = 0.25  # with no matched box to compare with, a centre this far off (in label sizes) is unusual
PRIOR = 0.05  # the share of label boxes taken to be wrong before the model is heard
SPURIOUS_PRIOR = 0.01  # the share of label boxes on no object at all (rarer than a box misplaced or misnamed)
LISTED = 0.01  # suspects at least this likely to be label errors are listed
WEAK_LISTED = 0.2  # with a model too weak to audit with, only these
LIKELY = 0.5  # suspects counted as likely label errors
# A model whose confidence separates its right from its wrong boxes less than MIN_SEPARATION of the time and that
# finds fewer than MIN_RECALL of the labels at its sure confidence is too weak to audit with. Both sit below what
# label errors alone do to a good model: with 20% of the boxes wrong, logo_tdtu's 0.87 model measured 0.78 and 0.69.
MIN_SEPARATION = 0.7
MIN_RECALL = 0.6
ORDINARY_MAP50 = 0.8  # below this mAP50 against the labels, part of the first suspects are the model's own mistakes
WORTH_RANGE = (0.001, 0.999)  # a confidence is never worth certainty either way
SIZE_WIDTH = 0.5  # labels whose log areas differ by this much are of a size (areas about 1.65 times apart)
SIZE_RATIO = 4.0  # a box of a label's class this many times larger or smaller in area is another object
SIZE_PRIOR = 5.0  # how many labels' weight the split's mean miss rate has in each size's
SIZE_STEP = 0.02  # log areas are binned this finely to weigh sizes (a 25th of SIZE_WIDTH)
SIZE_FLOOR = 0.01  # the share of a class's labels a box of a size none has counts as (its size gap's ceiling)
CLASS_FOLDS = 5  # a label's class chances come from a fit on the other folds' labels


@dataclass(frozen=True)
class Suspect:
    """One box to look at: where, why, how likely, and what the model would put there."""

    image: int
    line: int | None
    """The label file's line (1-based); None for an overlooked object, which has no line."""
    type: str
    score: float
    """0..1, lower is likelier wrong: 1 - the probability that this label is an error."""
    box: tuple[float, float, float, float]
    """The label's box, or for an overlooked object the model's, as x1, y1, x2, y2 in pixels."""
    label_class: int | None
    suggested_class: int | None
    suggested_box: tuple[float, float, float, float] | None
    confidence: float | None
    """The confidence of the prediction behind the suggestion."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Strength:
    """How far this model's predictions on this split can be trusted against its labels."""

    sure: float
    """The median over classes of each class's F1-best confidence: the model's own "sure"."""
    precision: float
    """The share of its predictions at or above their class's sure confidence that match a label."""
    recall: float
    """The share of labels matched by a prediction at or above its class's sure confidence."""
    separation: float
    """How often the model's confidence ranks a matched box above an unmatched one (the AUROC of the confidence,
    each class's divided by its sure confidence): how well it tells its right boxes from its wrong ones. Label
    errors hardly move it: they are a few confident boxes among the many unsure ones."""
    predictions: int
    labels: int
    map50: float = 1.0
    """The model's mAP50 on this split against its labels, as an evaluation measures it: lowered by the model's
    mistakes and by the labels' errors alike."""

    @property
    def weak(self) -> bool:
        return self.separation < MIN_SEPARATION and self.recall < MIN_RECALL

    def warning(self) -> str | None:
        if not self.weak:
            return self._ordinary()
        return (
            f"This model is too weak to audit these labels with: its confidence tells its right boxes from its wrong "
            f"ones only {self.separation:.0%} of the time (the audit needs {MIN_SEPARATION:.0%}); at its own sure "
            f"confidence ({self.sure:.2f}) {self.precision:.0%} of its boxes match a label and it finds "
            f"{self.recall:.0%} of the labels. Its disagreements with the labels are as likely its mistakes as "
            f"theirs, so only the suspects at least {WEAK_LISTED:.0%} likely are listed. Audit with a stronger model "
            "(train longer, on more data or at a larger image size)."
        )

    def _ordinary(self) -> str | None:
        if self.map50 >= ORDINARY_MAP50:
            return None
        return (
            f"This model finds these labels with mAP50 {self.map50:.2f} (below {ORDINARY_MAP50}): some of its "
            "disagreements with them are its own mistakes, so some suspects, even near the top, will turn out right "
            "as labelled. The list is ranked by how likely each one is a label error (each suspect's chance is "
            "shown): check from the top. If most of the first ones are real errors, the labels, not the model, "
            "held its mAP50 down."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sure": round(self.sure, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "separation": round(self.separation, 4),
            "min_separation": MIN_SEPARATION,
            "map50": round(self.map50, 4),
            "ordinary_map50": ORDINARY_MAP50,
            "predictions": self.predictions,
            "labels": self.labels,
            "weak": self.weak,
        }


@dataclass
class AuditResult:
    image_scores: np.ndarray
    suspects: list[Suspect]
    strength: Strength
    blind_spot: BlindSpot | None = None
    """The label sizes too small for the model to see at its input, where the audit cannot check them."""

    @property
    def confident(self) -> float:
        """The confidence at which this model's predictions count as sure."""
        return self.strength.sure


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if not len(boxes):
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _area(boxes: np.ndarray) -> np.ndarray:
    """Each box's area (0 for a box of no extent)."""
    return (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)


def box_of(values: np.ndarray) -> tuple[float, float, float, float]:
    return tuple(round(float(v), 2) for v in values)  # type: ignore[return-value]


def posterior(ratio: float, prior: float = PRIOR) -> float:
    """The probability of a label error from the prior and the likelihood ratio of the model's evidence."""
    odds = prior / (1 - prior) * max(ratio, 0.0)
    return odds / (1 + odds)


def odds(chance: float) -> float:
    """The likelihood ratio of evidence that is right with this chance (the model's worth)."""
    c = float(np.clip(chance, 0.0, WORTH_RANGE[1]))
    return c / (1 - c)


def matches(d: Detections, kept: np.ndarray, by_class: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Each kept prediction matched as an evaluation matches (greedy by confidence, same class, IoU >= MATCH_IOU;
    any class with by_class=False: is there an object): (matched flags, the matched label's index or -1) per index
    of d.pred_*."""
    matched, label = np.zeros(len(d.pred_conf), bool), np.full(len(d.pred_conf), -1)
    for n in np.unique(d.pred_image[kept]):
        labels = np.flatnonzero(d.gt_image == n)
        free = np.ones(len(labels), bool)
        mine = np.flatnonzero((d.pred_image == n) & kept)
        for p in mine[np.argsort(-d.pred_conf[mine], kind="stable")]:
            overlap = iou(d.pred_box[p], d.gt_box[labels]) * free
            if by_class:
                overlap = overlap * (d.gt_cls[labels] == d.pred_cls[p])
            if len(overlap) and overlap.max() >= MATCH_IOU:
                best = int(np.argmax(overlap))
                free[best], matched[p], label[p] = False, True, labels[best]
    return matched, label


def strength_of(d: Detections, kept: np.ndarray, matched: np.ndarray) -> Strength:
    """Each class's F1-best confidence on this split (its own "sure": classes' confidences run on different
    scales), and over all classes the precision and recall there."""
    sure = np.ones(len(d.pred_conf))
    hits = total = found = 0
    for k in np.unique(np.concatenate([d.gt_cls, d.pred_cls[kept]])):
        mine = np.flatnonzero(kept & (d.pred_cls == k))
        labels = int((d.gt_cls == k).sum())
        if not len(mine) or not labels:
            total += len(mine)
            continue
        order = mine[np.argsort(-d.pred_conf[mine], kind="stable")]
        tp = np.cumsum(matched[order])
        precision, recall = tp / np.arange(1, len(order) + 1), tp / labels
        best = int(np.argmax(2 * precision * recall / np.maximum(precision + recall, 1e-9)))
        sure[d.pred_cls == k] = d.pred_conf[order[best]]
        hits, total, found = hits + int(tp[best]), total + best + 1, found + int(tp[best])
    if not total or not len(d.gt_cls):
        return Strength(1.0, 0.0, 0.0, 0.5, int(kept.sum()), len(d.gt_cls), 0.0)
    typical = float(np.median(sure[kept])) if kept.any() else 1.0
    separation = _auroc(d.pred_conf[kept], matched[kept])
    map50 = average_precision(d)["map50"]
    figures = (hits / total, found / len(d.gt_cls), separation, int(kept.sum()), len(d.gt_cls), map50)
    return Strength(typical, *figures)


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a positive scores above a negative (ties count half); 0.5 without both."""
    pos, neg = int(positive.sum()), int((~positive).sum())
    if not pos or not neg:
        return 1.0 if pos else 0.5
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores[order][np.r_[False, np.diff(scores[order]) == 0]]):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def outside(d: Detections) -> np.ndarray:
    """The share of each prediction's box that lies outside its image. Where no labelled object is cut by the
    image's edge, a box reaching out of it is seldom on one; the fit learns from the split which holds."""
    sizes = np.asarray(d.sizes, float)[d.pred_image] if len(d.pred_image) else np.zeros((0, 2))
    box = d.pred_box.astype(float)
    inner = np.clip(box, 0, np.column_stack([sizes, sizes]))
    return 1 - _area(inner) / np.maximum(_area(box), 1e-9)


def size_gap(d: Detections) -> np.ndarray:
    """How few of the labels of each prediction's class are of its size: minus the log of their share, each label
    weighted by how close its log area is to the box's (of all labels for a class none has). A box of a size no
    labelled object of its class has is seldom one; the fit learns from the split how far that holds."""
    if not len(d.gt_cls):
        return np.zeros(len(d.pred_conf))
    label_area = _log_area(d.gt_box)
    area = _log_area(d.pred_box)
    gap = np.zeros(len(area))
    for k in np.unique(d.pred_cls):
        mine = d.pred_cls == k
        theirs = label_area[d.gt_cls == k] if (d.gt_cls == k).any() else label_area
        gap[mine] = -np.log(_of_a_size(area[mine], theirs) / len(theirs) + SIZE_FLOOR)
    return gap


def _log_area(boxes: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(_area(boxes.astype(float)), 1e-9))


def _of_a_size(at: np.ndarray, sizes: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """At each log area of `at`, the sum over the log areas `sizes` of their `values` (1 unless given), each weighted
    by how close it is (a Gaussian of SIZE_WIDTH). The sizes are binned SIZE_STEP apart and the sums read off the
    bins' smoothed histogram, so many thousand boxes against many thousand labels cost no matrix of them all."""
    if not len(at) or not len(sizes):
        return np.zeros(len(at))
    values = np.ones(len(sizes)) if values is None else values
    low = min(float(at.min()), float(sizes.min())) - 4 * SIZE_WIDTH
    bins = int(np.ceil((max(float(at.max()), float(sizes.max())) + 4 * SIZE_WIDTH - low) / SIZE_STEP)) + 1
    histogram = np.bincount(np.rint((sizes - low) / SIZE_STEP).astype(int), weights=values, minlength=bins)
    reach = int(np.ceil(4 * SIZE_WIDTH / SIZE_STEP))
    kernel = np.exp(-0.5 * (np.arange(-reach, reach + 1) * SIZE_STEP / SIZE_WIDTH) ** 2)
    smoothed = np.convolve(histogram, kernel, mode="same")
    return np.interp(at, low + np.arange(len(smoothed)) * SIZE_STEP, smoothed)


def box_traits(d: Detections) -> np.ndarray:
    """What each prediction's box says of it beyond its confidence, one column each: the share of it outside the
    image (see outside) and how few of its class's labels are of its size (see size_gap)."""
    return np.column_stack([outside(d), size_gap(d)])


def worth_of(
    d: Detections,
    kept: np.ndarray,
    matched: np.ndarray,
    learn: np.ndarray | None = None,
    traits: np.ndarray | None = None,
) -> np.ndarray:
    """The chance that each kept prediction is right on this split: "matched" fitted by a logistic regression on
    the confidence's logit, with each class's own offset and slope (classes' confidences run on different scales;
    the regularisation keeps a rare class near the others), the share of the box outside the image and how far its
    size lies from its class's labels' (`traits`, see box_traits: computed here unless given), on the `learn`
    predictions (the kept ones unless given); 0 for the others."""
    low, high = WORTH_RANGE
    worth = np.zeros(len(d.pred_conf))
    learn = kept if learn is None else learn
    y = matched[learn].astype(int)
    if not len(y):
        return worth
    if len(np.unique(y)) < 2:
        worth[kept] = np.clip(y.mean(), low, high)
        return worth
    from sklearn.linear_model import LogisticRegression

    c = np.clip(d.pred_conf.astype(float), low, high)
    x = np.log(c / (1 - c))
    classes = np.unique(d.pred_cls[learn])
    onehot = (d.pred_cls[:, None] == classes[None, :]).astype(float)
    traits = box_traits(d) if traits is None else traits
    spread = np.maximum(traits[learn].std(0), 1e-3)  # each on the logit's scale: the regularisation weighs all alike
    traits = traits / spread
    features = np.column_stack([x, onehot, onehot * x[:, None], traits])
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(features[learn], y)
    worth[kept] = np.clip(fitted.predict_proba(features[kept])[:, 1], low, high)
    return worth


def offset(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """How far each box's centre lies from the label's, in label sizes (the larger of the two axes): a box can be
    a little larger or smaller than its object without being elsewhere."""
    w, h = max(box[2] - box[0], 1e-9), max(box[3] - box[1], 1e-9)
    dx = np.abs((boxes[:, 0] + boxes[:, 2]) - (box[0] + box[2])) / 2 / w
    dy = np.abs((boxes[:, 1] + boxes[:, 3]) - (box[1] + box[3])) / 2 / h
    return np.maximum(dx, dy)


def unusual_fit(offsets: np.ndarray) -> Callable[[float], float]:
    """How unusual a box of its class this far from a label is for this model: 1 beyond every offset of its
    matched boxes from their labels, 0 from the FIT_TAIL share of them down."""
    offsets = np.sort(offsets)

    def unusual(value: float) -> float:
        if not len(offsets):
            return 1.0 if value > NO_MATCHED_OFFSET else 0.0
        share = (len(offsets) - np.searchsorted(offsets, value, side="left") + 0.5) / (len(offsets) + 1)
        return float(np.clip(1 - share / FIT_TAIL, 0.0, 1.0))

    return unusual


def audit(d: Detections, lines: np.ndarray) -> AuditResult:
    """Score every image and type every suspect box; `lines[k]` is ground-truth box k's label-file line."""
    kept = d.pred_conf >= MIN_CONFIDENCE
    matched, label = matches(d, kept)
    strength = strength_of(d, kept, matched)
    traits = box_traits(d)
    worth_all = worth_of(d, kept, matched, traits=traits)
    predictions = _by_image(d, kept)
    overlap, nearest = label_overlap(d, predictions)
    on_object, object_label = matches(d, kept, by_class=False)
    # the chance that a box no label covers is on some object: learnt from the boxes on objects against the boxes
    # where no label is (the model's false alarms there); the second boxes it puts on objects it sees, which
    # matching leaves over, are no evidence against an object where nobody labelled one
    objectness = worth_of(d, kept & (on_object | (overlap < COVERED_IOU)), on_object, traits=traits)
    unusual = unusual_fit(np.array([offset(d.gt_box[label[p]], d.pred_box[[p]])[0] for p in np.flatnonzero(matched)]))
    # how little the model sees of each labelled object; on average over the labels of its size (nearly all right)
    # it is the model's own miss rate there, against which a label where nothing is seen is weighed
    unseen = np.array(
        [_unseen(d, int(k), predictions[int(d.gt_image[k])], worth_all, unusual) for k in range(len(d.gt_cls))]
    )
    miss_rate = miss_rates(d.gt_box, unseen)

    suspects: list[tuple[float, Suspect]] = []
    image_scores = np.ones(len(d.images))

    # what a box on a labelled object is worth, learnt from such boxes, its right ones against those of another class
    # than their label's (its confusions): whether the model names a labelled object right is not told by its false
    # alarms on the background, nor by its second boxes of the label's own class, which outnumber its confusions
    on_label = kept & (overlap >= MATCH_IOU)
    confused = on_label.copy()
    confused[on_label] = d.gt_cls[nearest[on_label]] != d.pred_cls[on_label]
    naming = worth_of(d, on_label, matched, learn=on_label & (matched | confused), traits=traits)
    classes = class_chances(d, on_label, nearest)
    # what a box beside a label of its class is worth as that label's object elsewhere: learnt from the right boxes
    # against the model's boxes that lie so beside a label of their class without matching it (its loose boxes)
    placing = worth_of(d, kept, matched, learn=kept & (matched | near_misses(d, matched, predictions)), traits=traits)
    worths = Worths(worth_all, naming, placing, classes)

    def candidate(k: int, mine: np.ndarray) -> Candidate:
        return _label_candidate(d, k, int(lines[k]), mine, worths, unusual, float(unseen[k] / miss_rate[k]))

    for n in range(len(d.images)):
        for probability, suspect in _image_suspects(d, n, predictions[n], objectness, candidate):
            image_scores[n] *= 1 - probability
            if probability >= LISTED:
                suspects.append((probability, suspect))
    if strength.weak:
        suspects = [(p, s) for p, s in suspects if p >= WEAK_LISTED]
    suspects.sort(
        key=lambda ps: (round(1 - ps[0], 5), -(ps[1].confidence or 0.0), ps[1].image, ps[1].line or 0, ps[1].box)
    )
    found = np.zeros(len(d.gt_cls), bool)
    found[object_label[on_object]] = True
    return AuditResult(np.round(image_scores, 6), [s for _, s in suspects], strength, blind_spot(d, found))


def label_overlap(d: Detections, predictions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each kept prediction's (`predictions`: each image's) largest IoU with a label of its image, whatever its
    class, and that label's index; 0 and -1 for the others."""
    overlap, nearest = np.zeros(len(d.pred_conf)), np.full(len(d.pred_conf), -1)
    for n, mine in enumerate(predictions):
        for k in np.flatnonzero(d.gt_image == n) if len(mine) else []:
            ious = iou(d.gt_box[k], d.pred_box[mine])
            larger = ious > overlap[mine]
            overlap[mine[larger]], nearest[mine[larger]] = ious[larger], k
    return overlap, nearest


def class_chances(d: Detections, on_label: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """Per label and class, the chance that the labelled object is of that class, from the model's surest score of
    each class on it (`on_label`: the boxes on a label, `nearest`: which): a multinomial logistic fit of the labels'
    classes (nearly all right) on each score's logit and whether the model gave that class at all, so a pair of
    classes the model mixes up is learnt as such. Fitted on CLASS_FOLDS folds of the labels the model puts a box on,
    each label's chances from the fit without it (its own class would vouch for itself); NaN for a class that fit
    had no label of, and for a label with no box on it."""
    width = int(max(d.gt_cls.max(initial=-1), d.pred_cls.max(initial=-1))) + 1
    chances = np.full((len(d.gt_cls), width), np.nan)
    scores = np.zeros((len(d.gt_cls), width))
    np.maximum.at(scores, (nearest[on_label], d.pred_cls[on_label]), d.pred_conf[on_label])
    seen = np.flatnonzero(scores.max(1) > 0)
    given = np.clip(scores, MIN_CONFIDENCE / 2, WORTH_RANGE[1])
    features = np.column_stack([np.log(given / (1 - given)), scores > 0])
    from sklearn.linear_model import LogisticRegression

    fold = np.arange(len(seen)) % CLASS_FOLDS
    for f in range(CLASS_FOLDS):
        train, test = seen[fold != f], seen[fold == f]
        if len(np.unique(d.gt_cls[train])) < 2 or not len(test):
            continue
        fitted = LogisticRegression(C=1.0, max_iter=1000).fit(features[train], d.gt_cls[train])
        chances[np.ix_(test, fitted.classes_)] = fitted.predict_proba(features[test])
    return chances


def near_misses(d: Detections, matched: np.ndarray, predictions: list[np.ndarray]) -> np.ndarray:
    """The kept predictions (`predictions`: each image's) that match no label but lie within reach of a label of
    their class (where a misplaced label's object can be, see _within_reach) without fitting it as mAP50 would (a
    second box on a labelled object is no box beside it)."""
    near = np.zeros(len(d.pred_conf), bool)
    for n, mine in enumerate(predictions):
        free = mine[~matched[mine]]
        for k in np.flatnonzero(d.gt_image == n) if len(free) else []:
            boxes = d.pred_box[free]
            beside = _within_reach(d.gt_box[k], boxes) & (iou(d.gt_box[k], boxes) < MATCH_IOU)
            near[free[beside & (d.pred_cls[free] == d.gt_cls[k])]] = True
    return near


def miss_rates(boxes: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """How little the model sees, on average, of labels of each label's size (the others', weighted by how close
    their log area is, leaning on the split's mean where few are near): small objects are missed more often, so
    nothing seen on one is weaker evidence that no object is there."""
    if not len(unseen):
        return np.zeros(0)
    area = _log_area(boxes)
    near = _of_a_size(area, area) - 1.0  # less the label itself
    seen_near = _of_a_size(area, area, unseen) - unseen
    mean = float(unseen.mean())
    return np.maximum((seen_near + SIZE_PRIOR * mean) / (np.maximum(near, 0.0) + SIZE_PRIOR), 0.01)


def _by_image(d: Detections, kept: np.ndarray) -> list[np.ndarray]:
    """The kept predictions' indices of each image, in index order (one sort, not a scan per image)."""
    kept_index = np.flatnonzero(kept)
    kept_index = kept_index[np.argsort(d.pred_image[kept_index], kind="stable")]
    bounds = np.searchsorted(d.pred_image[kept_index], np.arange(len(d.images) + 1))
    return [kept_index[bounds[n] : bounds[n + 1]] for n in range(len(d.images))]


class Worths(NamedTuple):
    """What each prediction is worth, each against the wrong boxes its evidence competes with."""

    anywhere: np.ndarray
    """The chance it is right (worth_of over all kept boxes): where a box is, for a label's place."""
    naming: np.ndarray
    """The chance it is right among the boxes on labels, against the model's confusions between classes: what
    class a labelled object is, for a swap."""
    placing: np.ndarray
    """The chance it is right against the model's boxes beside labels of their class that do not match them: where
    a misplaced label's object is."""
    classes: np.ndarray
    """Per label, each class's chance of being its object's, from the model's scores on it (NaN: not learnt)."""


class Candidate(NamedTuple):
    """A label's likeliest error, and the box it suggests instead, if any."""

    probability: float
    suspect: Suspect
    claim: int | None
    """The prediction it takes as the label's true place (then not also an overlooked object)."""
    hold: float
    """How much likelier that box is the label's misplaced object than an object beside a right label: how unusual
    its offset is, that no other box fits the label, and how little the model sees where the label is."""


def _image_suspects(
    d: Detections,
    n: int,
    mine: np.ndarray,
    objectness: np.ndarray,
    candidate: Callable[[int, np.ndarray], Candidate],
) -> list[tuple[float, Suspect]]:
    """Image n's candidates: each label's likeliest error, and each place no label covers where the model sees an
    object. A box near a label that a misplaced label would explain can also be an object nobody labelled (an
    ordinary model often misses the label's own object beside it). Both need an object there, so what tells them
    apart is the label's own place: the misplaced label keeps the box when the model sees less there than at the
    split's labels on average (Candidate.hold >= 1); otherwise the box is an overlooked object and its labels are
    weighed again without it."""
    labels = [int(k) for k in np.flatnonzero(d.gt_image == n)]
    found = {k: candidate(k, mine) for k in labels}
    taken: list[int] = []  # the boxes of the objects that won
    places = []
    for probability, suspect, place in _overlooked(d, n, np.array(labels, int), mine, objectness):
        claimants = [k for k in labels if found[k].claim in place]
        if any(found[k].hold >= 1 for k in claimants):
            continue  # a misplaced label's object
        taken.extend(place)
        for k in claimants:
            found[k] = candidate(k, np.setdiff1d(mine, taken))
        places.append((probability, suspect))
    return [(c.probability, c.suspect) for c in found.values()] + places


def _label_candidate(
    d: Detections,
    k: int,
    line: int,
    mine: np.ndarray,
    worths: Worths,
    unusual: Callable[[float], float],
    nothing_seen: float,
) -> Candidate:
    """The likeliest error of label box k, its suspect, and the prediction it takes as its suggested box (which
    is then not also called overlooked if the label holds it, see _image_suspects); `nothing_seen` is the
    likelihood ratio of how little the model sees there (its unseen measure against the model's miss rate on labels
    of its size, see miss_rates)."""
    n, cls, box = int(d.gt_image[k]), int(d.gt_cls[k]), d.gt_box[k]
    overlap = iou(box, d.pred_box[mine])
    same = d.pred_cls[mine] == cls
    worth, naming, placing, classes = worths
    swap_by, swap = _swap(
        d, cls, mine[same & (overlap >= MATCH_IOU)], mine[~same & (overlap >= MATCH_IOU)], naming, classes[k]
    )
    # badly located: a box of its class near it that fits it unusually badly, while no other box fits it well
    near, near_offset = _near_of_its_class(d, k, mine)
    offs = np.array([placing[p] * unusual(f) for p, f in zip(near, near_offset, strict=True)])
    fits = np.array([worth[p] * (1 - unusual(f)) for p, f in zip(near, near_offset, strict=True)])
    off = int(np.argmax(offs)) if len(near) and offs.max() > 0 else None
    fitted = float(np.delete(fits, off).max(initial=0.0)) if off is not None else float(fits.max(initial=0.0))
    off_by = None if off is None else near[off]
    located = 0.0 if off is None else float(offs[off]) * (1 - fitted)
    chances = {
        "swap": posterior(swap),
        "located": posterior(odds(located) * nothing_seen),
        "nothing": posterior(nothing_seen, SPURIOUS_PRIOR),
    }
    evidence = max(chances, key=lambda key: chances[key])
    probability = chances[evidence]
    by, kind, suggested_class, claim = None, "badly_located", cls, None
    if evidence == "swap" and swap_by is not None:
        by, kind, suggested_class = int(swap_by), "swapped", int(d.pred_cls[swap_by])
    elif evidence == "located" and off_by is not None:
        by = claim = int(off_by)
    suspect = Suspect(
        n,
        line,
        kind,
        round(1 - probability, 5),
        box_of(box),
        cls,
        suggested_class,
        None if claim is None else box_of(d.pred_box[claim]),
        None if by is None else round(float(d.pred_conf[by]), 4),
    )
    hold = 0.0 if off is None else unusual(float(near_offset[off])) * (1 - fitted) * nothing_seen
    return Candidate(probability, suspect, claim, hold)


def _swap(
    d: Detections, cls: int, own: np.ndarray, other: np.ndarray, naming: np.ndarray, chance: np.ndarray
) -> tuple[int | None, float]:
    """The box of another class on a label of class `cls` (`own`, `other`: the boxes on it of its class and of
    others) and the likelihood ratio that the object is of that class rather than `cls`: the ratio of their learnt
    chances (`chance`, see class_chances) where both were learnt, otherwise the box's naming worth times the chance
    that the label's own class is not there."""
    if not len(other):
        return None, 0.0
    known = [int(j) for j in np.unique(d.pred_cls[other]) if not np.isnan(chance[j])]
    if known and not np.isnan(chance[cls]):
        best = max(known, key=lambda j: chance[j])
        of_best = other[d.pred_cls[other] == best]
        return int(of_best[np.argmax(d.pred_conf[of_best])]), float(chance[best] / max(chance[cls], 1 - WORTH_RANGE[1]))
    by = int(other[np.argmax(naming[other])])
    return by, odds(float(naming[by]) * (1 - float(naming[own].max(initial=0.0))))


def _near_of_its_class(d: Detections, k: int, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The predictions of label box k's class whose centre lies within one label size of its centre and whose area
    is within SIZE_RATIO times its own (where a misplaced label's object can be), and their offsets from it; a box
    on another label more than on this one is that label's object, not this one's, and a box that matches the
    label as an evaluation would (IoU >= MATCH_IOU) fits it, whatever its offset (offset 0)."""
    same = mine[d.pred_cls[mine] == d.gt_cls[k]]
    away = offset(d.gt_box[k], d.pred_box[same])
    on_label = iou(d.gt_box[k], d.pred_box[same])
    near = _within_reach(d.gt_box[k], d.pred_box[same])
    others = np.flatnonzero(d.gt_image == d.gt_image[k])
    others = others[others != k]
    for i in np.flatnonzero(near) if len(others) else []:
        elsewhere = iou(d.pred_box[same[i]], d.gt_box[others]).max()
        if elsewhere >= COVERED_IOU and elsewhere > on_label[i]:
            near[i] = False
    away = np.where(on_label >= MATCH_IOU, 0.0, away)  # it matches, as in mAP50: it fits
    return same[near], away[near]


def _within_reach(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which boxes a misplaced label `box` could belong to: their centre within one label size of its centre,
    their area within SIZE_RATIO times its own."""
    scale = np.abs(_log_area(boxes) - _log_area(box[None])[0])
    return (offset(box, boxes) <= 1) & (scale <= np.log(SIZE_RATIO))


def _unseen(d: Detections, k: int, mine: np.ndarray, worth: np.ndarray, unusual: Callable[[float], float]) -> float:
    """How little the model sees at label box k: no box of any class on it, and no box of its class near it that
    fits it."""
    anything = float(worth[mine][iou(d.gt_box[k], d.pred_box[mine]) >= COVERED_IOU].max(initial=0.0))
    fits = [worth[p] * (1 - unusual(f)) for p, f in zip(*_near_of_its_class(d, k, mine), strict=True)]
    return (1 - anything) * (1 - max(fits, default=0.0))


def _overlooked(
    d: Detections, n: int, labels: np.ndarray, mine: np.ndarray, worth: np.ndarray
) -> list[tuple[float, Suspect, list[int]]]:
    """Places no label covers where the model sees an object, surest first, with the boxes there: the surest box
    of each place suggests the class, every box there (any class) adds to the chance that an object is there, and
    the place's box is theirs averaged by that chance (an ordinary model's surest box is often looser than where its
    boxes agree)."""
    free = [
        int(p)
        for p in mine[np.argsort(-d.pred_conf[mine], kind="stable")]
        if not len(labels) or iou(d.pred_box[p], d.gt_box[labels]).max() < COVERED_IOU
    ]
    found: list[tuple[float, Suspect, list[int]]] = []
    taken: list[int] = []
    for p in free:
        if taken and iou(d.pred_box[p], d.pred_box[taken]).max() >= MATCH_IOU:
            continue  # the same place as a surer box: one object
        taken.append(p)
        # p itself even where its box has no area (no IoU with itself)
        place = [q for q in free if q == p or iou(d.pred_box[p], d.pred_box[[q]])[0] >= MATCH_IOU]
        probability = posterior(odds(1 - float(np.prod(1 - worth[place]))))
        box = box_of(np.average(d.pred_box[place], axis=0, weights=worth[place] + 1e-9))
        found.append(
            (
                probability,
                Suspect(
                    n,
                    None,
                    "overlooked",
                    round(1 - probability, 5),
                    box,
                    None,
                    int(d.pred_cls[p]),
                    box,
                    round(float(d.pred_conf[p]), 4),
                ),
                place,
            )
        )
    return found


def suspect_targets(issue: dict[str, Any]) -> list[dict[str, Any]]:
    """The boxes that explain a suspect (as an explanation's targets: box, class_id, role): a swapped class its box
    for the model's class and for the label's, side by side; an overlooked object the model's box; a badly located
    label its box and the model's."""
    box, label, suggested = issue["box"], issue.get("label_class"), issue.get("suggested_class")
    if issue["type"] == "swapped" and label is not None and suggested is not None:
        return [
            {"box": box, "class_id": int(suggested), "role": "model's class"},
            {"box": box, "class_id": int(label), "role": "labelled class"},
        ]
    if issue["type"] == "overlooked" and suggested is not None:
        return [{"box": box, "class_id": int(suggested), "role": "overlooked"}]
    targets = [] if label is None else [{"box": box, "class_id": int(label), "role": "label"}]
    if issue.get("suggested_box") and suggested is not None:
        targets.append({"box": issue["suggested_box"], "class_id": int(suggested), "role": "model's box"})
    return targets
