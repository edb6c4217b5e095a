"""One S3 client per location (boto3: AWS, SeaweedFS, R2, GCS interop), and its errors in words a user can act on.

    s3 = client_for(target.location, settings)
    try: ... except Exception as exc: raise refusal(exc, target) from None

Messages name the endpoint and the bucket, never a credential.
"""

from __future__ import annotations

from typing import Any

from mlcore.core.settings import AWS_CREDENTIALS, Settings
from mlcore.storage.locations import Location, StorageError, Target

CREDENTIALS_HELP = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a credentials file) where the studio runs"


def client_for(location: Location, settings: Settings) -> Any:
    """A client for `location`, with the credentials of the environment the settings were read from (else the
    credentials file or the machine's role, as boto3 finds them)."""
    import boto3
    from botocore.config import Config

    env = settings.environment
    given = {arg: env[var] for arg, var in AWS_CREDENTIALS.items() if env.get(var)}
    session = boto3.session.Session(profile_name=location.profile or None, **(given if not location.profile else {}))
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
        s3={"addressing_style": "path" if location.endpoint else "auto"},
    )
    region = location.region or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return session.client("s3", endpoint_url=location.endpoint or None, region_name=region, config=config)


def refusal(exc: BaseException, target: Target) -> StorageError:
    """What went wrong with `target`, said so that the user knows what to do."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    place = f"{target.url} on {target.location.where}"
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound):
        return StorageError(f"no usable credentials for {place}: {CREDENTIALS_HELP}.")
    if isinstance(exc, EndpointConnectionError):
        return StorageError(f"{target.location.where} cannot be reached; check the endpoint and the network.")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
            return StorageError(f"{target.location.where} refused the credentials ({code}): {CREDENTIALS_HELP}.")
        if code in ("NoSuchBucket", "404") and not target.prefix:
            return StorageError(f"there is no bucket {target.bucket!r} on {target.location.where}; check its name.")
        if code == "NoSuchBucket":
            return StorageError(f"there is no bucket {target.bucket!r} on {target.location.where}; check its name.")
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return StorageError(
                f"{place}: access denied; the credentials need s3:ListBucket and s3:GetObject on it "
                "(and s3:PutObject to write results)."
            )
        return StorageError(f"{place}: the server answered {code or 'an error'}; try again, or check the bucket.")
    if isinstance(exc, OSError):
        return StorageError(f"{place}: {exc.strerror or exc}; check the outputs disk and the network.")
    return StorageError(f"{place}: {type(exc).__name__}; try again.")
