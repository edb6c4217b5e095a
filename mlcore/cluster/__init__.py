"""The studio's side of a Ray cluster (ML_STUDIO_RAY_ADDRESS): its job server, its nodes and the
shared-outputs probe. Ray is imported only here, and only when an address is configured.

May import: mlcore.core, mlcore.engine, mlcore.datasets."""
