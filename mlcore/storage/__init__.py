"""Object storage: S3-compatible buckets (AWS, R2, GCS interop, SeaweedFS, Ceph) as dataset sources, pulled into a
content-addressed cache under the outputs."""
