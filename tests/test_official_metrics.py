"segkit's numbers against the official implementations' on the reference data in tests/data (computed with the official code)."
import math
from pathlib import Path

import pytest
import torch

from segkit.vesuvius.betti import betti_matching_implementation
from segkit.vesuvius.metrics import official_comparison

DATA = Path(__file__).resolve().parent / "data"
PARTS = ("score", "topo_score", "surface_dice", "voi", "voi_score")


@pytest.fixture(scope="module")
def comparison():
    return official_comparison(DATA)


def _table(frame) -> str:
    "segkit vs official, one row per case, for the failure message."
    columns = ["case", "kind", *(f"{p}_{who}" for p in PARTS for who in ("segkit", "official")), "counts_segkit", "counts_official",
               "max_difference", "implementation"]
    return frame[columns].to_string(float_format=lambda x: f"{x:.9f}")


def test_all_24_cases_are_scored(comparison):
    assert len(comparison) == 24
    assert set(comparison.implementation) == {betti_matching_implementation()}


@pytest.mark.parametrize("part", PARTS)
def test_every_part_equals_the_official_value(comparison, part):
    wrong = comparison[(comparison[f"{part}_segkit"] - comparison[f"{part}_official"]).abs() > 1e-6]
    assert wrong.empty, f"{part} differs from the official value on {len(wrong)} of 24 cases:\n{_table(comparison)}"


def test_betti_matching_counts_equal_the_official_counts(comparison):
    wrong = comparison[comparison.counts_segkit != comparison.counts_official]
    assert wrong.empty, f"[matched, predicted, true] per dimension differ on {len(wrong)} of 24 cases:\n{_table(comparison)}"


GRIDS = ((19, 34), (26, 46), (16, 16), (37, 37))


@pytest.mark.parametrize("rows,columns", GRIDS)
@pytest.mark.parametrize("kind,registers", [("official", False), ("reg", True)])
def test_position_embeddings_equal_the_official_resize(kind, registers, rows, columns):
    from segkit.backbone import official_position_embedding
    reference = torch.load(DATA / "dinov2_pos_embed.pt", weights_only=True)
    ours = official_position_embedding(reference["pos_embed"][:, 1:], (rows, columns), registers)
    expected = reference[f"{kind}_{rows}x{columns}"][:, 1:]
    difference = (ours - expected).abs().max().item()
    assert difference <= 1e-6, f"{kind} {rows}x{columns}: largest difference {difference:.3g}"


@pytest.mark.parametrize("name", ["dinov2_tiny", "dinov2_tiny_reg"])
@pytest.mark.parametrize("height,width", [(266, 476), (364, 644), (224, 224), (28, 42)])
def test_backbone_adds_the_official_positions_at_every_size(name, height, width):
    from segkit.backbone import DinoV2Backbone, official_position_embedding
    torch.manual_seed(0)
    backbone = DinoV2Backbone(name)
    vit, first = backbone.vit, backbone.vit.num_prefix_tokens
    images = torch.randn(1, 3, height, width)
    grid = (height // 14, width // 14)
    with torch.no_grad():
        added = backbone.tokens(images)[:, first:] - vit.patch_embed(images).reshape(1, math.prod(grid), -1)
        table = vit.pos_embed[:, 0 if vit.no_embed_class else first:]
        expected = official_position_embedding(table, grid, registers=name.endswith("_reg"))
    assert torch.allclose(added, expected.expand_as(added), atol=1e-5)
    assert backbone(images).shape == (1, vit.embed_dim, *grid)
