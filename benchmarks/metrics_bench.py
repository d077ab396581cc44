"Metric benchmarks: the confusion-matrix update against the plain bincount kernel and torchmetrics, at phase 3's size."
import torch

from benchmarks import timing
from segkit.metrics import ConfusionMatrix

BATCH, CLASSES, HEIGHT, WIDTH, IGNORE = 2, 10, 364, 644, 255
WHAT = f"{BATCH}x{HEIGHT}x{WIDTH}, {CLASSES} classes, 5% ignored"


def _batch():
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, CLASSES, (BATCH, HEIGHT, WIDTH), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.05] = IGNORE
    logits = torch.randn(BATCH, CLASSES, HEIGHT, WIDTH, generator=generator)
    return logits, logits.max(1).indices, target


def plain_kernel(pred, target, k=CLASSES, ignore_index=IGNORE):
    "The reference: one bincount of target*K + pred with `where` for the ignore mask, no checks."
    return torch.bincount(torch.where(target != ignore_index, target * k + pred, k * k).flatten(), minlength=k * k + 1)[:k * k].view(k, k)


def _torchmetrics_matrix():
    from torchmetrics.classification import MulticlassConfusionMatrix
    return MulticlassConfusionMatrix(num_classes=CLASSES, ignore_index=IGNORE)


def confusion_matrix(tmp, median_time):
    "ConfusionMatrix.update from class indices (with its checks) vs the plain kernel and torchmetrics' update."
    logits, pred, target = _batch()
    matrix = ConfusionMatrix(CLASSES)
    reference = plain_kernel(pred, target)
    if not torch.equal(matrix.update(pred, target), reference):
        raise AssertionError("ConfusionMatrix.update and the plain kernel disagree: fix the metric before timing it")
    bench = "confusion matrix update from class indices"
    kernel = timing.compare(lambda: matrix.update(pred, target), lambda: plain_kernel(pred, target), repeats=4 * timing.REPEATS)
    rows = [timing.compared(bench, f"{WHAT}; segkit (ignore handling, value checks) vs plain `bincount(where(...))` kernel (no checks)",
                            kernel, "≤ 1.1x")]
    if not timing.installed("torchmetrics"):
        return rows + [timing.not_installed(bench, f"{WHAT}; vs torchmetrics MulticlassConfusionMatrix", "torchmetrics")]
    theirs = _torchmetrics_matrix()
    theirs.update(pred, target)
    if not torch.equal(theirs.compute(), reference):
        raise AssertionError("torchmetrics' confusion matrix disagrees with the plain kernel on the bench batch")
    other = timing.compare(lambda: matrix.update(pred, target), lambda: theirs.update(pred, target), repeats=4 * timing.REPEATS)
    return rows + [timing.compared(bench, f"{WHAT}; vs torchmetrics MulticlassConfusionMatrix.update (validate_args=True)", other)]


def metrics_update(tmp, median_time):
    "The trainer's metric update from logits (class = index of the max over dim 1) vs torchmetrics' update from logits."
    logits, pred, target = _batch()
    bench = "metric update from logits"
    what = f"{WHAT}; ConfusionMatrix.update(logits) vs torchmetrics MulticlassConfusionMatrix.update(logits)"
    if not timing.installed("torchmetrics"): return [timing.not_installed(bench, what, "torchmetrics")]
    matrix, theirs = ConfusionMatrix(CLASSES), _torchmetrics_matrix()
    theirs.update(logits, target)
    if not torch.equal(matrix.update(logits, target), theirs.compute()):
        raise AssertionError("ConfusionMatrix and torchmetrics disagree on the logits of the bench batch")
    return [timing.compared(bench, what, timing.compare(lambda: matrix.update(logits, target), lambda: theirs.update(logits, target)))]
