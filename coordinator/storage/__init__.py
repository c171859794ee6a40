"""Where a job's data lives and how what is read back is checked.

- ``state``: the job record and round log in DynamoDB, parameters and results in S3 (``Store``).
- ``integrity``: checksums for everything the coordinator reads back from S3.
- ``dataset_prep``: datasets written as Parquet partitions with a manifest, locally or in S3.
"""
