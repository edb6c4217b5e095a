"""A model's classes against a dataset's: same names, same order, or a message that says which differ."""

from mlcore.evaluation.class_names import names_mismatch

LOGOS = {0: "solara", 1: "aqualine", 2: "verdant"}


def test_the_same_names_in_the_same_order_match() -> None:
    assert names_mismatch(LOGOS, dict(LOGOS)) is None


def test_the_same_names_in_another_order_are_refused_with_both_orders() -> None:
    told = names_mismatch(LOGOS, {0: "verdant", 1: "solara", 2: "aqualine"})
    assert told is not None and "different order" in told
    assert "['solara', 'aqualine', 'verdant']" in told and "['verdant', 'solara', 'aqualine']" in told


def test_other_names_are_listed_on_each_side() -> None:
    told = names_mismatch(LOGOS, {0: "solara", 1: "logo_tdtu"})
    assert told is not None
    assert "only in the model ['aqualine', 'verdant']" in told and "only in the dataset ['logo_tdtu']" in told
