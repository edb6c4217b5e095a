"""Class names of a model against a dataset's: evaluating one on the other needs the same names in the same order."""

from pathlib import Path

from mlcore.core.settings import Settings
from mlcore.datasets.loader import Dataset, allowed_dataset, same_folder
from mlcore.runs.store import trained_on


def names_mismatch(model: dict[int, str], data: dict[int, str]) -> str | None:
    """Why `model`'s classes cannot be measured on `data`'s, or None when they are the same, id for id."""
    if model == data:
        return None
    if set(model.values()) == set(data.values()):
        return (
            "the model and the dataset have the same classes in a different order "
            f"(model: {list(model.values())}, dataset: {list(data.values())}); the numbers would be wrong. "
            "Evaluate on a data.yaml that lists the names in the model's order."
        )
    only_model = sorted(set(model.values()) - set(data.values()))
    only_data = sorted(set(data.values()) - set(model.values()))
    return (
        f"the model's classes differ from the dataset's: only in the model {only_model}, only in the dataset "
        f"{only_data}. Evaluate a model trained on this dataset's classes."
    )


def classes_warning(settings: Settings, model: Path, dataset: str, found: Dataset) -> str | None:
    """Why an evaluation of `model` on `dataset` (read as `found`) would be refused: its training dataset has
    other classes. None for a loose .pt file, or for the model's own dataset (which is not read twice)."""
    trained = trained_on(model)
    if not trained or same_folder(settings, trained, [dataset]):
        return None
    source = allowed_dataset(settings, trained)
    if source is None or not (mismatch := names_mismatch(source.names, found.names)):
        return None
    why = f"{mismatch[0].upper()}{mismatch[1:]}"
    return f"This model was trained on `{trained}`: {why} The evaluation would be refused."
