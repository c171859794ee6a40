"""IAM audit: the AWS calls each function really makes, checked against its role's policy.

``record`` hooks botocore in the local deploy server; ``policy`` evaluates IAM statements of a
synthesized template; ``iam`` joins them into the report ``sgc audit iam`` prints.
"""
