"""Shared Pulumi kit: naming, tags, the Lambda function component and packaging."""
