"""Why a detector saw what it saw: per-box saliency maps for predictions and for evaluation errors.

Two methods, written from their papers: a gradient map (LayerCAM, Jiang et al. 2021) of one box's class score over
the head's multi-scale inputs, for `.pt` models; and D-RISE (Petsiuk et al. 2021), black-box masking, for exports.
"""
