"""The ground floor: settings (the only reader of the environment), every file and folder name the
studio writes (`paths`, with `RunFolder`), user paths resolved under allowed roots (`safe_paths`), YAML
that users write read within limits (`user_yaml`), atomic writes, login and token access, and the
refusals several domains share (`errors`).

Imports nothing from mlcore above it."""
